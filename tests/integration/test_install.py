"""Spillway installed like a Debian program: `meson install` into a destdir
puts the programs, libspillway with its headers and pkg-config file, the
man pages, the example configs and the systemd units in place; a tiny
client built through pkg-config against the installed library gets a
reply from a real edge; and every flag a program's --help prints is in its
man page."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, CLI_BIN, EDGE_BIN, SOURCE, Cluster, check, run  # noqa: E402

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
MAN = os.path.join(SOURCE, "docs", "man")

CLIENT = r"""
#include <spillway.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    spw_client_t *client = spw_client_new(argv[1]);
    if (!client)
        return 1;
    const void *body[] = { argv[2] };
    size_t size[] = { strlen(argv[2]) };
    spw_reply_t reply;
    spw_reply_init(&reply);
    spw_status_t status = spw_client_call(client, "echo", body, size, 1, 5000, &reply);
    if (status == SPW_STATUS_OK && reply.body_count == 1) {
        zmq_msg_t *frame = &reply.msg.frame[reply.body_first];
        printf("%.*s\n", (int) zmq_msg_size(frame), (const char *) zmq_msg_data(frame));
    }
    else
        printf("status %s\n", spw_status_text(status));
    spw_reply_reset(&reply);
    spw_client_destroy(&client);
    return status == SPW_STATUS_OK ? 0 : 1;
}
"""


def man_text(page):
    """A man page as its source reads, with roff's escaped dashes plain."""
    with open(os.path.join(MAN, page)) as f:
        return f.read().replace("\\-", "-")


def help_flags(argv):
    result = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=10)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", result.stdout))


def test_every_help_flag_is_in_its_man_page():
    for program, page in ((EDGE_BIN, "spillway-edge.8"), (HUB_BIN, "spillway-hub.8")):
        flags = help_flags([program])
        check(len(flags) > 10, "%s --help printed too few flags: %r" % (program, flags))
        text = man_text(page)
        missing = sorted(f for f in flags if f not in text)
        check(not missing, "%s lacks %s" % (page, missing))
    for kind, page in (("edge", "spillway-edge.yaml.5"), ("hub", "spillway-hub.yaml.5")):
        program = EDGE_BIN if kind == "edge" else HUB_BIN
        keys = {f[2:].replace("-", "_") for f in help_flags([program])} - {"help", "version",
                                                                            "config"}
        text = man_text(page)
        missing = sorted(k for k in keys if "\\fB%s\\fR" % k not in text)
        check(not missing, "%s lacks the keys %s" % (page, missing))
    top = subprocess.run([CLI_BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    commands = re.findall(r"^  ([a-z-]+)\s{2,}", top, re.M)
    check(len(commands) >= 8, "spillway --help lists %r" % commands)
    text = man_text("spillway.1")
    for command in commands:
        check(".SS " + command in text, "spillway.1 has no section for %s" % command)
        missing = sorted(f for f in help_flags([CLI_BIN, command]) if f not in text)
        check(not missing, "spillway.1 lacks %s's %s" % (command, missing))


def sanitizer_flags():
    """The -fsanitize flags of the build (a client of an ASan library needs them too)."""
    result = subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                            capture_output=True, text=True, timeout=60)
    check(result.returncode == 0, "meson introspect: %s" % result.stderr)
    options = {o["name"]: o["value"] for o in json.loads(result.stdout)}
    sanitize = options.get("b_sanitize", "none")
    return [] if sanitize in ("none", "") else ["-fsanitize=" + sanitize]


def test_install_into_a_destdir_and_build_a_client_against_it():
    with Cluster("install") as c:
        dest = os.path.join(c.dir, "dest")
        result = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest,
                                 "--no-rebuild", "--quiet"],
                                capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, "meson install: %s%s" % (result.stdout, result.stderr))
        installed = {os.path.relpath(os.path.join(d, f), dest)
                     for d, _, files in os.walk(dest) for f in files}
        for pattern in (r"bin/spillway$", r"bin/spillway-edge$", r"bin/spillway-hub$",
                        r"lib/.*libspillway\.so", r"include/spillway\.h$",
                        r"pkgconfig/spillway\.pc$", r"man1/spillway\.1$",
                        r"man8/spillway-edge\.8$", r"man8/spillway-hub\.8$",
                        r"man5/spillway-edge\.yaml\.5$", r"man5/spillway-hub\.yaml\.5$",
                        r"examples/edge\.yaml$", r"examples/hub\.yaml$",
                        r"systemd/system/spillway-hub\.service$",
                        r"systemd/system/spillway-edge@\.service$",
                        r"dist-packages/spillway/__init__\.py$",
                        r"dist-packages/spillway/worker\.py$"):
            check(any(re.search(pattern, path) for path in installed),
                  "nothing installed matches %s: %r" % (pattern, sorted(installed)))
        pc = next(p for p in installed if p.endswith("pkgconfig/spillway.pc"))
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(os.path.join(dest, pc)),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "spillway"], env=env,
                               capture_output=True, text=True, timeout=30)
        check(flags.returncode == 0 and "-lspillway" in flags.stdout,
              "pkg-config spillway: %s%s" % (flags.stdout, flags.stderr))
        source, program = os.path.join(c.dir, "client.c"), os.path.join(c.dir, "client")
        with open(source, "w") as f:
            f.write(CLIENT)
        built = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", source, "-o", program]
                               + sanitizer_flags() + flags.stdout.split(),
                               capture_output=True, text=True, timeout=120)
        check(built.returncode == 0, "building the client: %s" % built.stderr)
        edge = c.start_edge("A")
        c.start_worker(edge, "worker", "--service", "echo", "--echo")
        lib = os.path.dirname(os.path.join(dest, next(p for p in installed
                                                      if re.search(r"libspillway\.so", p))))
        run_env = dict(os.environ, LD_LIBRARY_PATH=lib)

        def answered():
            out = subprocess.run([program, edge.frontend, "installed"], env=run_env,
                                 capture_output=True, text=True, timeout=30)
            return out if out.returncode == 0 else None
        out = c.wait_for("the installed client's reply", answered)
        check(out.stdout == "installed\n", "the client printed %r" % out.stdout)
        #  The Python package, from where it was installed, on Debian's python.
        package = os.path.dirname(os.path.dirname(os.path.join(dest, next(
            p for p in installed if p.endswith("spillway/__init__.py")))))
        check(re.search(r"/lib/python3\.\d+/dist-packages$", package),
              "the package went to %s, off Debian's python path" % package)
        out = subprocess.run(["/usr/bin/python3", "-m", "spillway", "submit", "--edge",
                              edge.frontend, "--service", "echo", "from python"],
                             env=dict(os.environ, PYTHONPATH=package), cwd=c.dir,
                             capture_output=True, text=True, timeout=30)
        check(out.returncode == 0 and out.stdout == "from python\n",
              "the installed package answered %r %r" % (out.stdout, out.stderr))


run([
    test_every_help_flag_is_in_its_man_page,
    test_install_into_a_destdir_and_build_a_client_against_it,
])
