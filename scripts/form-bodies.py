#!/usr/bin/env python3
"""Many connections each posting a large urlencoded form to a running Overgang, slowly, with a
visitor's CSRF token (anyone's for opening /login), and the server's memory meanwhile: the
measurement behind the form budget (src/web/budget.rs, docs/performance.md).

    scripts/form-bodies.py --port 8080 --pid "$(pgrep -f 'overgang serve')" \
        --connections 1000 --kb 500 [--addresses 200] [--path /login] [--hold 20]

Each connection sends the headers and all but the last byte of its body, waits --hold seconds,
sends the last byte and reads the status line. --addresses N spreads the connections over the
loopback addresses 127.0.0.1 … 127.0.0.N, as N clients. Prints how many got which answer
(a refused body is often cut off mid-send: ConnectionResetError) and the server's resident
memory before, at the highest and after. Needs only Python 3.
"""
import argparse
import asyncio
import collections
import re
import urllib.request


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def visitor(port):
    r = urllib.request.urlopen(f"http://127.0.0.1:{port}/login")
    cookies = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie"))
    token = re.search(r'name="_csrf" value="([^"]+)"', r.read().decode()).group(1)
    return token, cookies


async def post(a, i, token, cookies, results):
    source = f"127.0.0.{1 + i % a.addresses}"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", a.port, local_addr=(source, 0))
        start = f"_csrf={token}&email=u{i}%40example.dk&password="
        body = (start + "x" * max(0, a.kb * 1024 - len(start))).encode()
        head = (
            f"POST {a.path} HTTP/1.1\r\nHost: 127.0.0.1:{a.port}\r\nCookie: {cookies}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body[:-1])
        await writer.drain()
        await asyncio.sleep(a.hold)
        writer.write(body[-1:])
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 60)
        results[line.split(b" ")[1].decode() if line else "closed"] += 1
        writer.close()
    except Exception as e:  # a refused body is cut off while it is still being sent
        results[type(e).__name__] += 1


async def sample(pid, peak, stop):
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib(pid))
        await asyncio.sleep(0.2)


async def main(a):
    token, cookies = visitor(a.port)
    before = rss_mib(a.pid)
    peak, stop, results = [before], asyncio.Event(), collections.Counter()
    sampler = asyncio.create_task(sample(a.pid, peak, stop))
    await asyncio.gather(*[post(a, i, token, cookies, results) for i in range(a.connections)])
    await asyncio.sleep(1)
    stop.set()
    await sampler
    print(f"answers: {dict(results)}")
    print(f"server RSS: before {before} MiB, highest {peak[0]} MiB, after {rss_mib(a.pid)} MiB")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--pid", type=int, required=True, help="the server's process id")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--kb", type=int, default=500, help="size of each body in KB")
    p.add_argument("--addresses", type=int, default=1)
    p.add_argument("--path", default="/login")
    p.add_argument("--hold", type=float, default=20, help="seconds before the last byte")
    asyncio.run(main(p.parse_args()))
