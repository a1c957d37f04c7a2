"""The Python `kubernetes` client through edgeproxy: list, watch from a
resourceVersion, bookmarks, and 410 Gone for a resourceVersion that left
the proxy's window. Run by tests/e2e/throughproxy (TestPythonClient), which
starts the apiserver and the proxy and passes:

    client_check.py KUBECONFIG NAMESPACE OLD_RV NAME...

NAME... are the widgets the namespace holds; OLD_RV is a resourceVersion
the proxy's window no longer holds. Exits 0 when every check holds, else
prints what failed and exits 1. Each wait is bounded.
"""

import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL, KIND = "edge.example.com", "v1", "widgets", "Widget"


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def main():
    kubeconfig, ns, old_rv, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    config.load_kube_config(config_file=kubeconfig)
    api = client.CustomObjectsApi()

    # list
    l = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    got = sorted(i["metadata"]["name"] for i in l["items"])
    if got != sorted(names):
        fail(f"list: {got}, want {sorted(names)}")
    rv = l["metadata"]["resourceVersion"]
    print(f"list: {len(got)} widgets at resourceVersion {rv}", flush=True)

    # A page of two, then the rest with the continue token.
    p1 = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, limit=2)
    cont = p1["metadata"].get("continue")
    p2 = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, limit=100, _continue=cont)
    paged = [i["metadata"]["name"] for i in p1["items"] + p2["items"]]
    if paged != sorted(names) or not cont:
        fail(f"paged list: {paged} (continue {cont!r}), want {sorted(names)}")
    print("paged list: 2 + %d widgets" % len(p2["items"]), flush=True)

    # watch from the list's resourceVersion: a widget created through the
    # proxy arrives as ADDED, then a periodic BOOKMARK (the proxy runs with
    # a one-second bookmark interval).
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
            "metadata": {"name": "from-python", "namespace": ns},
            "spec": {"color": "green", "size": 3}}
    api.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    w = watch.Watch()
    seen_added = seen_bookmark = False
    deadline = time.monotonic() + 20
    for ev in w.stream(api.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL,
                       resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=20):
        t, obj = ev["type"], ev["object"]
        if t == "ADDED" and obj["metadata"]["name"] == "from-python":
            seen_added = True
        elif t == "BOOKMARK":
            if not seen_added:
                fail("a BOOKMARK before the ADDED it must follow")
            seen_bookmark = True
            print(f"watch: ADDED from-python, then BOOKMARK at {obj['metadata']['resourceVersion']}", flush=True)
        elif t not in ("ADDED", "MODIFIED", "DELETED"):
            fail(f"watch: unexpected {t} {obj}")
        if (seen_added and seen_bookmark) or time.monotonic() > deadline:
            w.stop()
            break
    if not (seen_added and seen_bookmark):
        fail(f"watch from {rv}: ADDED seen {seen_added}, BOOKMARK seen {seen_bookmark}")

    # watch from a resourceVersion older than the window: 410 Gone.
    w = watch.Watch()
    try:
        for ev in w.stream(api.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL,
                           resource_version=old_rv, timeout_seconds=10):
            fail(f"watch from {old_rv}: {ev['type']} {ev['object']}, want 410")
        fail(f"watch from {old_rv} ended without 410")
    except ApiException as e:
        if e.status != 410 or "too old resource version" not in str(e.reason):
            fail(f"watch from {old_rv}: {e.status} {e.reason}, want 410 too old resource version")
        print(f"watch from {old_rv}: {e.status} {e.reason}", flush=True)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
