"""Every Python and Node.js snippet of docs/clients.md and the README runs.

Against a real edge: its endpoints replace tcp://127.0.0.1:5555 (the
frontend) and :5556 (the backend), and :5599 an edge that is not there. A
snippet whose first line is `# serves` (`// serves`) is a worker, started
first and left serving; the others run in order, each must exit 0, and
what a line's comment says it prints (`print(x)  # b'HELLO'`) must be in
its output (up to a `...`)."""

import os
import re
import subprocess

from harness import SOURCE, Cluster, check, run

DOCS = [os.path.join(SOURCE, "docs", "clients.md"), os.path.join(SOURCE, "README.md")]
FENCE = re.compile(r"^```(python|js)\n(.*?)^```", re.M | re.S)
PRINTS = {"python": re.compile(r"print\(.*#\s*(.+)$"),
          "js": re.compile(r"(?:console\.log|then\(console\.log).*//\s*(.+)$")}


def snippets():
    found = []
    for path in DOCS:
        with open(path) as f:
            text = f.read()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((os.path.relpath(path, SOURCE), line, match.group(1), match.group(2)))
    return found


def expected(language, code):
    """What the snippet's comments say it prints."""
    wants = []
    for line in code.splitlines():
        m = PRINTS[language].search(line)
        if m:
            wants.append(m.group(1).split("...")[0].strip())
    return wants


def test_every_snippet_runs():
    found = snippets()
    check(sum(1 for s in found if s[2] == "python") >= 5 and
          sum(1 for s in found if s[2] == "js") >= 3,
          "too few snippets found: %r" % [(s[0], s[1], s[2]) for s in found])
    with Cluster("docs") as c:
        edge = c.start_edge("A")
        node_path = os.path.join(c.dir, "node_modules")
        os.mkdir(node_path)
        os.symlink(os.path.join(SOURCE, "clients", "node"), os.path.join(node_path, "spillway"))
        env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "clients", "python"),
                   NODE_PATH=node_path)

        def place(code):
            return (code.replace("tcp://127.0.0.1:5555", edge.frontend)
                    .replace("tcp://127.0.0.1:5556", edge.backend)
                    .replace("tcp://127.0.0.1:5599", c.endpoint("nowhere")))

        def argv(language, code):
            return (["/usr/bin/python3", "-c", place(code)] if language == "python"
                    else ["node", "-e", place(code)])

        for i, (path, line, language, code) in enumerate(found):
            if code.splitlines()[0].strip() in ("# serves", "// serves"):
                log = open(os.path.join(c.dir, "snippet-%d.log" % i), "wb")
                proc = subprocess.Popen(argv(language, code), env=env, stdout=log,
                                        stderr=subprocess.STDOUT, cwd=c.dir)
                log.close()
                #  A Python script dies of SIGTERM; the Node one stops its worker.
                proc.label, proc.log_path = "snippet-%d" % i, log.name
                proc.expect_clean = language == "js"
                c.procs.append(proc)
        for service in ("upper", "classify"):
            c.wait_for("a snippet's worker of %s" % service,
                       lambda: c.stats(edge)["services"].get(service, {}).get("idle", "0") != "0")
        for path, line, language, code in found:
            if code.splitlines()[0].strip() in ("# serves", "// serves"):
                continue
            done = subprocess.run(argv(language, code), env=env, cwd=c.dir, timeout=30,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            check(done.returncode == 0, "the %s snippet at %s:%d exited %d:\n%s"
                  % (language, path, line, done.returncode, done.stdout))
            for want in expected(language, code):
                check(want in done.stdout, "the %s snippet at %s:%d printed %r, not %r"
                      % (language, path, line, done.stdout, want))


run([test_every_snippet_runs])
