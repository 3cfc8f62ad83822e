"""Request byte streams for the HTTP differential test (test_http_differential.py): each case is sent
as is to vitals and to nginx, which must agree on accepted vs rejected and on the number of requests
the stream held. Targets stay under /health, so vitals answers them (200, or 405 to other methods).

CASES: {name: bytes}, in families: valid requests, pipelines, request line, version, line endings,
field syntax, Host, Content-Length, Transfer-Encoding and chunked bodies, smuggling attempts
(CL.CL, CL.TE, TE.CL, TE.TE), Expect, Connection, control bytes and non-ASCII, sizes."""

CASES = {}


def case(name, data):
    if name in CASES:
        raise ValueError("duplicate corpus case %r" % name)
    CASES[name] = data


def req(line=b"GET /health HTTP/1.1", fields=(b"Host: x",), body=b"", eol=b"\r\n"):
    """A request: start line, field lines, empty line, body; `eol` ends every line."""
    return line + eol + b"".join(f + eol for f in fields) + eol + body


GET = req()
SMUGGLED = b"GET /health/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"  # were a body misread, this is answered (404)

# --- valid: methods, targets, versions, header variants -----------------------------------------------
for method in (b"GET", b"HEAD", b"OPTIONS", b"DELETE", b"PUT", b"PATCH", b"BREW", b"X-CUSTOM_1"):
    case("method %s" % method.decode(), req(method + b" /health HTTP/1.1"))
case("POST with empty body", req(b"POST /health HTTP/1.1", (b"Host: x", b"Content-Length: 0")))
case("POST with body", req(b"POST /health HTTP/1.1", (b"Host: x", b"Content-Length: 5"), b"hello"))
case("PUT with body", req(b"PUT /health HTTP/1.1", (b"Host: x", b"Content-Length: 3"), b"abc"))
for target in (b"/health?x=1", b"/health?", b"/health/", b"/health/checks/ok", b"/health?a=1&b=%20",
               b"/%68ealth", b"/health;p=1", b"/health?q=/a/b?c", b"/health/./", b"/health/../health",
               b"//health", b"/health%2Fx", b"/health?%zz", b"/health/%zz", b"/health?x=" + b"a" * 2000):
    case("target %r" % target[:40], req(b"GET " + target + b" HTTP/1.1"))
case("absolute-form target", req(b"GET http://x/health HTTP/1.1"))
case("absolute-form target with port", req(b"GET http://x:80/health HTTP/1.1"))
case("absolute-form https target", req(b"GET https://x/health HTTP/1.1"))
case("absolute-form target other host", req(b"GET http://other/health HTTP/1.1"))
case("absolute-form without path", req(b"GET http://x HTTP/1.1"))
case("asterisk-form OPTIONS", req(b"OPTIONS * HTTP/1.1"))
case("asterisk-form GET", req(b"GET * HTTP/1.1"))
case("authority-form CONNECT", req(b"CONNECT x:443 HTTP/1.1", (b"Host: x:443",)))
case("authority-form GET", req(b"GET x:80 HTTP/1.1"))
case("target without slash", req(b"GET health HTTP/1.1"))
case("target with fragment", req(b"GET /health#frag HTTP/1.1"))
case("HTTP/1.0 without Host", req(b"GET /health HTTP/1.0", ()))
case("HTTP/1.0 with Host", req(b"GET /health HTTP/1.0"))
case("HTTP/1.0 HEAD", req(b"HEAD /health HTTP/1.0", ()))
case("Host with port", req(fields=(b"Host: x:8081",)))
case("Host IPv4", req(fields=(b"Host: 127.0.0.1",)))
case("Host IPv6", req(fields=(b"Host: [::1]:8081",)))
case("Host empty", req(fields=(b"Host:",)))
case("Host with space inside", req(fields=(b"Host: a b",)))
case("Host with slash", req(fields=(b"Host: x/y",)))
case("Host with userinfo", req(fields=(b"Host: u@x",)))
case("Host last of many fields", req(fields=(b"Accept: */*", b"User-Agent: t", b"Host: x")))
case("field names mixed case", req(fields=(b"hOsT: x", b"ACCEPT: */*")))
case("value with trailing whitespace", req(fields=(b"Host: x", b"X-A: b \t ")))
case("value without leading space", req(fields=(b"Host:x", b"X-A:b")))
case("value with leading tab", req(fields=(b"Host:\tx",)))
case("empty value", req(fields=(b"Host: x", b"X-A:")))
case("tab inside value", req(fields=(b"Host: x", b"X-A: a\tb")))
case("obs-text in value (latin-1)", req(fields=(b"Host: x", b"X-A: caf\xe9")))
case("UTF-8 in value", req(fields=(b"Host: x", b"X-A: \xc3\xa9t\xc3\xa9")))
case("UTF-8 in target", req(b"GET /health?q=\xc3\xa9 HTTP/1.1"))
case("token chars in name", req(fields=(b"Host: x", b"X!#$%&'*+-.^_`|~1: v")))
case("Upgrade h2c", req(fields=(b"Host: x", b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c",
                                b"HTTP2-Settings: AAMAAABkAAQAAP__")))
case("Upgrade websocket on /health", req(fields=(b"Host: x", b"Connection: Upgrade", b"Upgrade: websocket")))
case("100 headers", req(fields=(b"Host: x",) + tuple(b"X-%d: v" % i for i in range(100))))
case("value of 4 KiB", req(fields=(b"Host: x", b"X-A: " + b"a" * 4096)))
case("Accept-Encoding and If-None-Match", req(fields=(b"Host: x", b"Accept-Encoding: gzip", b'If-None-Match: "x"')))
case("Range", req(fields=(b"Host: x", b"Range: bytes=0-1")))
case("TE trailers (request TE field)", req(fields=(b"Host: x", b"TE: trailers", b"Connection: TE")))

# --- pipelines and persistence ------------------------------------------------------------------------
for n in (2, 3, 4, 5):
    case("pipeline %d GET" % n, GET * n)
case("pipeline GET HEAD GET", GET + req(b"HEAD /health HTTP/1.1") + GET)
case("pipeline 3 then close in the middle", GET + req(fields=(b"Host: x", b"Connection: close")) + GET)
case("pipeline close first", req(fields=(b"Host: x", b"Connection: close")) + GET)
case("pipeline last closes", GET + GET + req(fields=(b"Host: x", b"Connection: close")))
case("pipeline POST body then GET", req(b"POST /health HTTP/1.1", (b"Host: x", b"Content-Length: 5"), b"hello") + GET)
case("pipeline POST empty then GET", req(b"POST /health HTTP/1.1", (b"Host: x", b"Content-Length: 0")) + GET)
case("pipeline body looks like request", req(b"POST /health HTTP/1.1", (b"Host: x", b"Content-Length: %d" % len(SMUGGLED)),
                                             SMUGGLED) + GET)
case("pipeline HTTP/1.0 keep-alive then GET", req(b"GET /health HTTP/1.0", (b"Connection: keep-alive",)) + GET)
case("pipeline HTTP/1.0 then GET", req(b"GET /health HTTP/1.0", ()) + GET)
case("pipeline GET then malformed", GET + b"GET /health HTTP/1.1\r\nHost x\r\n\r\n")
case("pipeline GET then garbage", GET + b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
case("pipeline GET then incomplete", GET + b"GET /health HTTP/1.1\r\nHost: x\r\n")
case("pipeline 5 mixed targets", b"".join(req(b"GET " + t + b" HTTP/1.1") for t in
                                          (b"/health", b"/health?a", b"/health/", b"/health/checks/ok", b"/health")))
case("pipeline chunked then GET", req(b"POST /health HTTP/1.1", (b"Host: x", b"Transfer-Encoding: chunked"),
                                      b"5\r\nhello\r\n0\r\n\r\n") + GET)
case("Connection close", req(fields=(b"Host: x", b"Connection: close")))
case("Connection Close mixed case", req(fields=(b"Host: x", b"Connection: Close")) + GET)
case("Connection close in a list", req(fields=(b"Host: x", b"Connection: foo, close")) + GET)
case("Connection keep-alive HTTP/1.1", req(fields=(b"Host: x", b"Connection: keep-alive")) + GET)
case("Connection foo HTTP/1.0", req(b"GET /health HTTP/1.0", (b"Connection: foo",)) + GET)
case("Connection keep-alive HTTP/1.0 twice", req(b"GET /health HTTP/1.0", (b"Connection: keep-alive",)) * 2)
case("two Connection fields", req(fields=(b"Host: x", b"Connection: keep-alive", b"Connection: close")) + GET)

# --- request line -------------------------------------------------------------------------------------
case("two spaces after method", req(b"GET  /health HTTP/1.1"))
case("two spaces before version", req(b"GET /health  HTTP/1.1"))
case("tab separators", req(b"GET\t/health\tHTTP/1.1"))
case("leading space", req(b" GET /health HTTP/1.1"))
case("trailing space after version", req(b"GET /health HTTP/1.1 "))
case("space in target", req(b"GET /hea lth HTTP/1.1"))
case("no target", req(b"GET HTTP/1.1"))
case("empty method", req(b" /health HTTP/1.1"))
case("lowercase method", req(b"get /health HTTP/1.1"))
case("method with invalid char", req(b"G@T /health HTTP/1.1"))
case("method of 100 letters", req(b"A" * 100 + b" /health HTTP/1.1"))
case("only method", req(b"GET", ()))
case("no version (HTTP/0.9)", b"GET /health\r\n\r\n")
case("NUL in target", req(b"GET /hea\x00lth HTTP/1.1"))
case("control byte in target", req(b"GET /hea\x01lth HTTP/1.1"))
case("DEL in target", req(b"GET /hea\x7flth HTTP/1.1"))
case("high byte in target", req(b"GET /health\xff HTTP/1.1"))
case("request line of 8 KiB", req(b"GET /health?x=" + b"a" * 8000 + b" HTTP/1.1"))
case("request line of 20 KiB", req(b"GET /health?x=" + b"a" * 20480 + b" HTTP/1.1"))
case("request line of 70 KiB", req(b"GET /" + b"a" * 70000 + b" HTTP/1.1"))
case("TLS ClientHello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64)
case("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
case("garbage bytes", bytes(range(256)) * 2 + b"\r\n\r\n")
case("only CRLFs", b"\r\n\r\n\r\n\r\n")

# --- version ------------------------------------------------------------------------------------------
for version in (b"HTTP/1.2", b"HTTP/1.9", b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9", b"HTTP/9.9", b"HTTP/1", b"HTTP/1.",
                b"HTTP/11", b"http/1.1", b"HTTP /1.1", b"HTTP/1.1x", b"HTTP/01.1", b"HTTP/1.01", b"HTTX/1.1",
                b"HTTP/1.1.1", b"HTTP/", b"HTTP/a.b"):
    case("version %s" % version.decode(), req(b"GET /health " + version))

# --- line endings -------------------------------------------------------------------------------------
case("bare LF everywhere", req(eol=b"\n"))
case("bare LF after request line", b"GET /health HTTP/1.1\nHost: x\r\n\r\n")
case("bare LF after a field", b"GET /health HTTP/1.1\r\nHost: x\n\r\n")
case("bare LF ending the head", b"GET /health HTTP/1.1\r\nHost: x\r\n\n")
case("bare LF pipeline", req(eol=b"\n") * 2)
case("bare CR after request line", b"GET /health HTTP/1.1\rHost: x\r\n\r\n")
case("bare CR in a field value", req(fields=(b"Host: x", b"X-A: a\rb")))
case("bare CR ending the head", b"GET /health HTTP/1.1\r\nHost: x\r\n\r")
case("CR CR LF", b"GET /health HTTP/1.1\r\r\nHost: x\r\n\r\n")
case("one leading CRLF", b"\r\n" + GET)
case("three leading CRLFs", b"\r\n" * 3 + GET)
case("leading bare LF", b"\n" + GET)
case("leading CRLF between pipelined", GET + b"\r\n" + GET)
case("leading spaces line", b"   \r\n" + GET)

# --- field syntax -------------------------------------------------------------------------------------
case("obs-fold with space", req(fields=(b"Host: x", b"X-A: a", b" b")))
case("obs-fold with tab", req(fields=(b"Host: x", b"X-A: a", b"\tb")))
case("obs-fold of Host", req(fields=(b"Host: x", b" y")))
case("whitespace before the first field", req(fields=(b" Host: x",)))
case("tab before the first field", req(fields=(b"\tHost: x",)))
case("field without colon", req(fields=(b"Host: x", b"X-A b")))
case("field only a name", req(fields=(b"Host: x", b"X-A")))
case("space before colon", req(fields=(b"Host : x",)))
case("space before colon (other field)", req(fields=(b"Host: x", b"X-A : b")))
case("tab before colon", req(fields=(b"Host: x", b"X-A\t: b")))
case("empty field name", req(fields=(b"Host: x", b": b")))
case("space in field name", req(fields=(b"Host: x", b"X A: b")))
case("paren in field name", req(fields=(b"Host: x", b"X(A): b")))
case("slash in field name", req(fields=(b"Host: x", b"X/A: b")))
case("at in field name", req(fields=(b"Host: x", b"X@A: b")))
case("high byte in field name", req(fields=(b"Host: x", b"X-\xe9: b")))
case("NUL in field name", req(fields=(b"Host: x", b"X-\x00A: b")))
case("underscore in field name", req(fields=(b"Host: x", b"X_A: b")))
for byte in (0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f):
    case("control 0x%02x in value" % byte, req(fields=(b"Host: x", b"X-A: a" + bytes([byte]) + b"b")))
case("NUL in Host", req(fields=(b"Host: x\x00y",)))
case("field line of 12 KiB", req(fields=(b"Host: x", b"X-A: " + b"a" * 12288)))
case("field line of 20 KiB", req(fields=(b"Host: x", b"X-A: " + b"a" * 20480)))
case("field line of 70 KiB", req(fields=(b"Host: x", b"X-A: " + b"a" * 70000)))
case("300 headers", req(fields=(b"Host: x",) + tuple(b"X-%d: v" % i for i in range(300))))
case("head of 40 KiB in many fields", req(fields=(b"Host: x",) + tuple(b"X-%d: %s" % (i, b"a" * 1000) for i in range(40))))
case("duplicate ordinary field", req(fields=(b"Host: x", b"Accept: a", b"Accept: b")))

# --- Host ---------------------------------------------------------------------------------------------
case("HTTP/1.1 without Host", req(fields=()))
case("HTTP/1.1 without Host other fields", req(fields=(b"Accept: */*",)))
case("two Host fields", req(fields=(b"Host: x", b"Host: y")))
case("two identical Host fields", req(fields=(b"Host: x", b"Host: x")))
case("Host list", req(fields=(b"Host: x, y",)))
case("absolute-form without Host", req(b"GET http://x/health HTTP/1.1", ()))

# --- Content-Length -----------------------------------------------------------------------------------
def post(fields, body=b"", tail=GET):
    return req(b"POST /health HTTP/1.1", (b"Host: x",) + tuple(fields), body) + tail


case("CL 0 on GET", req(fields=(b"Host: x", b"Content-Length: 0")) + GET)
case("CL body on GET", req(fields=(b"Host: x", b"Content-Length: 5"), body=b"hello") + GET)
case("CL same value twice", post((b"Content-Length: 5", b"Content-Length: 5"), b"hello"))
case("CL.CL different values", post((b"Content-Length: 0", b"Content-Length: 40")))
case("CL.CL different values reversed", post((b"Content-Length: 40", b"Content-Length: 0")))
case("CL list same values", post((b"Content-Length: 5, 5",), b"hello"))
case("CL list no space", post((b"Content-Length: 5,5",), b"hello"))
case("CL list different values", post((b"Content-Length: 5, 6",), b"hello"))
for value in (b"+5", b"-1", b"-0", b"1e3", b" 5 5", b"5 5", b"0x5", b"abc", b"5a", b"", b"99999999999999999999",
              b"18446744073709551616", b"9223372036854775808"):
    case("CL %r" % value, post((b"Content-Length: " + value,), b"hello"))
case("CL with leading zeros", post((b"Content-Length: 005",), b"hello"))
case("CL with trailing space", post((b"Content-Length: 5 ",), b"hello"))
case("CL with tab", post((b"Content-Length:\t5",), b"hello"))
case("CL larger than the body sent", post((b"Content-Length: 10",), b"hello", b""))
case("CL 1 MiB announced", post((b"Content-Length: 1048576",), b"hello", b""))
case("CL 99999999 announced", post((b"Content-Length: 99999999",), b"", b""))
case("CL of 64 KiB body", post((b"Content-Length: 65536",), b"a" * 65536))
case("CL of 70 KiB body", post((b"Content-Length: 71680",), b"a" * 71680))
case("space before colon of CL", post((b"Content-Length : 5",), b"hello"))
case("CL in HTTP/1.0", req(b"POST /health HTTP/1.0", (b"Content-Length: 5",), b"hello"))
case("HTTP/1.0 POST without CL", req(b"POST /health HTTP/1.0", ()))
case("HTTP/1.1 POST without CL", req(b"POST /health HTTP/1.1") + GET)

# --- Transfer-Encoding and chunked bodies --------------------------------------------------------------
def chunked(te_fields, body=b"5\r\nhello\r\n0\r\n\r\n", line=b"POST /health HTTP/1.1", tail=GET):
    return req(line, (b"Host: x",) + tuple(te_fields), body) + tail


TE = b"Transfer-Encoding: "
case("chunked", chunked((TE + b"chunked",), tail=b""))
case("chunked then GET", chunked((TE + b"chunked",)))
case("chunked empty", chunked((TE + b"chunked",), b"0\r\n\r\n"))
case("chunked two chunks", chunked((TE + b"chunked",), b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))
case("chunked with extension", chunked((TE + b"chunked",), b"5;ext=1\r\nhello\r\n0\r\n\r\n"))
case("chunked with quoted extension", chunked((TE + b"chunked",), b'5;e="a b"\r\nhello\r\n0\r\n\r\n'))
case("chunked with trailer", chunked((TE + b"chunked",), b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"))
case("chunked uppercase hex", chunked((TE + b"chunked",), b"A\r\n0123456789\r\n0\r\n\r\n"))
case("chunked leading zeros size", chunked((TE + b"chunked",), b"0005\r\nhello\r\n0\r\n\r\n"))
case("chunked body looks like request", chunked((TE + b"chunked",),
                                                b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)))
case("chunked size zz", chunked((TE + b"chunked",), b"zz\r\nhello\r\n0\r\n\r\n"))
case("chunked size negative", chunked((TE + b"chunked",), b"-5\r\nhello\r\n0\r\n\r\n"))
case("chunked size 0x prefix", chunked((TE + b"chunked",), b"0x5\r\nhello\r\n0\r\n\r\n"))
case("chunked size overflowing", chunked((TE + b"chunked",), b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"))
case("chunked size with space", chunked((TE + b"chunked",), b"5 \r\nhello\r\n0\r\n\r\n"))
case("chunked size empty", chunked((TE + b"chunked",), b"\r\nhello\r\n0\r\n\r\n"))
case("chunked data longer than size", chunked((TE + b"chunked",), b"3\r\nhello\r\n0\r\n\r\n"))
case("chunked missing CRLF after data", chunked((TE + b"chunked",), b"5\r\nhello0\r\n\r\n"))
case("chunked bare LF", chunked((TE + b"chunked",), b"5\nhello\n0\n\n"))
case("chunked without last chunk", chunked((TE + b"chunked",), b"5\r\nhello\r\n", b""))
case("chunked over 64 KiB", chunked((TE + b"chunked",), b"%x\r\n%s\r\n0\r\n\r\n" % (70000, b"a" * 70000)))
case("chunked HTTP/1.0", chunked((TE + b"chunked",), line=b"POST /health HTTP/1.0", tail=b""))
case("chunked on GET", chunked((TE + b"chunked",), line=b"GET /health HTTP/1.1"))
case("TE Chunked mixed case", chunked((TE + b"Chunked",)))
case("TE CHUNKED", chunked((TE + b"CHUNKED",)))
case("TE gzip", chunked((TE + b"gzip",), b"hello"))
case("TE identity", chunked((TE + b"identity",), b""))
case("TE gzip, chunked", chunked((TE + b"gzip, chunked",)))
case("TE chunked, gzip", chunked((TE + b"chunked, gzip",)))
case("TE chunked, identity", chunked((TE + b"chunked, identity",)))
case("TE identity, chunked", chunked((TE + b"identity, chunked",)))
case("TE chunked, chunked", chunked((TE + b"chunked, chunked",)))
case("TE xchunked", chunked((TE + b"xchunked",)))
case("TE chunkedx", chunked((TE + b"chunkedx",)))
case("TE leading space", chunked((b"Transfer-Encoding:  chunked",)))
case("TE trailing space", chunked((TE + b"chunked ",)))
case("TE leading tab", chunked((b"Transfer-Encoding:\tchunked",)))
case("TE trailing tab", chunked((TE + b"chunked\t",)))
case("TE space before colon", chunked((b"Transfer-Encoding : chunked",)))
case("TE tab before colon", chunked((b"Transfer-Encoding\t: chunked",)))
case("TE obs-fold", chunked((b"Transfer-Encoding:", b" chunked")))
case("TE quoted", chunked((TE + b'"chunked"',)))
case("TE with parameter", chunked((TE + b"chunked;q=1",)))
case("TE empty", chunked((TE,), b""))
case("TE comma only", chunked((TE + b",",), b""))
case("TE chunked with empty list members", chunked((TE + b", chunked",)))
case("TE.TE duplicate chunked", chunked((TE + b"chunked", TE + b"chunked")))
case("TE.TE chunked then xchunked", chunked((TE + b"chunked", TE + b"xchunked")))
case("TE.TE xchunked then chunked", chunked((TE + b"xchunked", TE + b"chunked")))
case("TE.TE gzip then chunked", chunked((TE + b"gzip", TE + b"chunked")))
case("TE.TE chunked then identity", chunked((TE + b"chunked", TE + b"identity")))
case("TE NUL in value", chunked((TE + b"chunked\x00",)))
case("TE vertical tab", chunked((TE + b"\x0bchunked",)))
case("TE name with underscore", chunked((b"Transfer_Encoding: chunked",), b"hello"))
case("TE name mixed case", chunked((b"transfer-ENCODING: chunked",)))

# --- smuggling: CL.TE, TE.CL and friends (each followed by a GET that must not be misread) -------------
case("CL.TE", chunked((b"Content-Length: 4", TE + b"chunked"), b"0\r\n\r\n" + SMUGGLED))
case("TE.CL", chunked((TE + b"chunked", b"Content-Length: 3"), b"8\r\nSMUGGLED\r\n0\r\n\r\n"))
case("CL.TE xchunked", chunked((b"Content-Length: 5", TE + b"xchunked"), b"0\r\n\r\n" + SMUGGLED))
case("CL.TE obfuscated space before colon", chunked((b"Content-Length: 5", b"Transfer-Encoding : chunked"),
                                                    b"0\r\n\r\n" + SMUGGLED))
case("CL.TE obs-fold", chunked((b"Content-Length: 5", b"Transfer-Encoding:", b" chunked"), b"0\r\n\r\n" + SMUGGLED))
case("CL.TE tab", chunked((b"Content-Length: 5", b"Transfer-Encoding:\tchunked"), b"0\r\n\r\n" + SMUGGLED))
case("CL.TE chunked, identity", chunked((b"Content-Length: 5", TE + b"chunked, identity"), b"0\r\n\r\n" + SMUGGLED))
case("CL.TE TE.TE", chunked((b"Content-Length: 5", TE + b"chunked", TE + b"x"), b"0\r\n\r\n" + SMUGGLED))
case("CL.TE bare LF TE", b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\n\r\n"
     b"0\r\n\r\n" + SMUGGLED)
case("CL.CL smuggle", post((b"Content-Length: %d" % len(SMUGGLED), b"Content-Length: 0"), SMUGGLED))
case("CL.CL NUL", post((b"Content-Length: 0\x005",), b"hello"))
case("CL obs-fold", post((b"Content-Length: 0", b" 5"), b"hello"))
case("CL underscore name", post((b"Content_Length: 5",), b"hello"))
case("TE in HTTP/1.0 with CL", chunked((b"Content-Length: 5", TE + b"chunked"), b"0\r\n\r\n",
                                       line=b"POST /health HTTP/1.0", tail=b""))

# --- Expect -------------------------------------------------------------------------------------------
case("Expect 100-continue with body", post((b"Expect: 100-continue", b"Content-Length: 5"), b"hello", b""))
case("Expect 100-continue no body", req(fields=(b"Host: x", b"Expect: 100-continue")))
case("Expect 100-Continue mixed case", post((b"Expect: 100-Continue", b"Content-Length: 5"), b"hello", b""))
case("Expect 100-continue HTTP/1.0", req(b"POST /health HTTP/1.0", (b"Expect: 100-continue", b"Content-Length: 5"),
                                         b"hello"))
case("Expect unknown", req(fields=(b"Host: x", b"Expect: something")))
case("Expect unknown on POST", post((b"Expect: something", b"Content-Length: 5"), b"hello", b""))
case("Expect empty", req(fields=(b"Host: x", b"Expect:")))
