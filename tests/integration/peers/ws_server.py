#!/usr/bin/python3
"""A WebSocket peer for the websocket check's integration tests (Debian's python3-websockets 10.x).

Listens on 127.0.0.1:<port> (0: ephemeral), prints "LISTENING <port>" once ready, then one line per
finished WebSocket connection: "CLOSED <code>", the close code the client sent (1006: the client went
away without a close frame). Stops on SIGTERM.

Modes (--mode):
  echo        a WebSocket server echoing every message (default); --subprotocol NAME makes it accept
              that subprotocol, --greeting TEXT sends TEXT right after the handshake, --basic-auth
              USER:PASSWORD requires HTTP Basic auth (websockets' basic_auth_protocol_factory)
  no-pong     like echo, but never answers pings
  http200     answers the upgrade request with "200 OK" and a plain body (websockets' process_request)
  http401     answers the upgrade request with "401 Unauthorized" (WWW-Authenticate: Basic) and closes
  bad-accept  raw socket: answers 101 with Upgrade/Connection but a wrong Sec-WebSocket-Accept
  silent      raw socket: accepts connections and never answers
  drip        raw socket: answers 101 one header byte every 50 ms, endlessly (a peer that never finishes)
TLS: --cert FILE --key FILE serve wss:// (websocket modes only).
"""

import argparse
import asyncio
import http
import signal
import ssl
import sys

import websockets
from websockets.legacy.server import WebSocketServerProtocol


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class NoPongProtocol(WebSocketServerProtocol):
    async def pong(self, data=b""):
        return None


def make_handler(greeting):
    async def handler(ws, path=None):
        try:
            if greeting is not None:
                await ws.send(greeting)
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            say("CLOSED %s" % ws.close_code)
    return handler


async def raw_server(args, stop):
    async def answer(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            if args.mode == "bad-accept":
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: dGhpcyBpcyBub3QgdGhlIGFjY2VwdCBrZXk=\r\n\r\n")
                await writer.drain()
            if args.mode == "drip":
                head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                while True:
                    for byte in head:
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(0.05)
                    head = b"X-Padding: still coming\r\n"
            await reader.read()  # until the client closes
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
    server = await asyncio.start_server(answer, "127.0.0.1", args.port)
    say("LISTENING %d" % server.sockets[0].getsockname()[1])
    await stop
    server.close()


async def ws_server(args, stop):
    kwargs = {}
    if args.subprotocol:
        kwargs["subprotocols"] = [args.subprotocol]
    if args.mode == "no-pong":
        kwargs["create_protocol"] = NoPongProtocol
    if args.basic_auth:
        user, password = args.basic_auth.split(":", 1)
        kwargs["create_protocol"] = websockets.basic_auth_protocol_factory(realm="vitals", credentials=(user, password))
    if args.mode == "http200":
        def process_request(path, headers):
            return http.HTTPStatus.OK, [("Content-Type", "text/plain")], b"plain HTTP here\n"
        kwargs["process_request"] = process_request
    if args.mode == "http401":
        def process_request(path, headers):
            return http.HTTPStatus.UNAUTHORIZED, [("WWW-Authenticate", 'Basic realm="vitals"')], b"who are you?\n"
        kwargs["process_request"] = process_request
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        kwargs["ssl"] = context
    async with websockets.serve(make_handler(args.greeting), "127.0.0.1", args.port, **kwargs) as server:
        port = [s.getsockname()[1] for s in server.sockets][0]
        say("LISTENING %d" % port)
        await stop


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", default="echo", choices=["echo", "no-pong", "http200", "http401", "bad-accept", "silent", "drip"])
    p.add_argument("--subprotocol")
    p.add_argument("--greeting")
    p.add_argument("--basic-auth")
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()

    async def run():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
        if args.mode in ("bad-accept", "silent", "drip"):
            await raw_server(args, stop)
        else:
            await ws_server(args, stop)
    asyncio.run(run())


if __name__ == "__main__":
    main()
