"""The seed's machine-learning service: a Python worker of the `predict`
service that serves a small real model, scikit-learn's logistic regression
trained at start on the iris data set that Debian's python3-sklearn ships.

    /usr/bin/python3 deploy/predict/worker.py --edge ENDPOINT --name EDGE
        [--slots N] [--cost-ms MS]

A task's body is a query string of the four measures in cm
(`sepal_length=5.1&sepal_width=3.5&petal_length=1.4&petal_width=0.2`);
the reply is JSON: {"species": ..., "probability": ..., "edge": EDGE}.
`--cost-ms` adds that much time to each prediction, standing for a model
larger than this one (iris predicts in microseconds), so that one edge's
workers can be overloaded on one machine. A bad query is a task-error.
"""

import argparse
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "clients", "python"))
import spillway  # noqa: E402

MEASURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def train():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    iris = load_iris()
    model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    return model, list(iris.target_names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edge", required=True, help="the edge's backend")
    parser.add_argument("--name", required=True, help="the edge's name, put in each reply")
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--cost-ms", type=float, default=0.0)
    args = parser.parse_args()
    model, names = train()

    def predict(body: bytes) -> bytes:
        query = urllib.parse.parse_qs(body.decode("ascii", "replace"))
        try:
            row = [float(query[m][0]) for m in MEASURES]
        except (KeyError, ValueError):
            raise ValueError("give %s as numbers" % ", ".join(MEASURES)) from None
        if args.cost_ms:
            time.sleep(args.cost_ms / 1000)
        probabilities = model.predict_proba([row])[0]
        best = int(probabilities.argmax())
        return json.dumps({"species": names[best], "probability": round(float(
            probabilities[best]), 3), "edge": args.name}).encode()

    worker = spillway.Worker(args.edge, "predict", predict, slots=args.slots)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop(timeout=2))
    print("predict worker at %s: model trained on %d iris flowers" % (args.name, 150),
          flush=True)
    worker.run()


if __name__ == "__main__":
    main()
