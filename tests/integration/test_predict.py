"""The seed's scenario, briefly: deploy/predict/run.py with a Node.js web
server, Python scikit-learn workers at two edges and HTTP load; nothing
lost, and the web edge's overflow served at the ml edge."""

import os
import re
import subprocess

from harness import BUILD, SOURCE, check, run


def test_predict_serves_the_overflow_at_the_other_edge():
    done = subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "deploy", "predict", "run.py"),
                           "--duration", "3", "--build", BUILD],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    out = done.stdout
    check(done.returncode == 0, "predict exited %d:\n%s" % (done.returncode, out))
    check(re.search(r"^lost: 0$", out, re.M), "not 'lost: 0':\n" + out)
    served = re.search(r"^served: web=(\d+) ml=(\d+)", out, re.M)
    check(served and int(served.group(1)) > 0 and int(served.group(2)) > int(served.group(1)),
          "the ml edge did not serve most of the overflow:\n" + out)
    check(re.search(r"^latency: p50=[\d.]+ms p99=[\d.]+ms$", out, re.M), "no latency:\n" + out)
    check(re.search(r"the web page: http://127\.0\.0\.1:\d+/", out), "no page address:\n" + out)


run([test_predict_serves_the_overflow_at_the_other_edge])
