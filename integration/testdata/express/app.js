// An Express 5 + helmet 8 application as users write one, run behind
// examples/reverse-proxy.Caddyfile by integration/express_test.go.
//
// It listens on 127.0.0.1, on $PORT or else a port the system picks, and
// prints "listening on 127.0.0.1:<port>" on stdout. It exits when its
// stdin closes, so a test that dies leaves no process behind.
"use strict"

const express = require("express")
const helmet = require("helmet")

const app = express()

// Caddy runs on the same machine: trust X-Forwarded-* from loopback only,
// so that req.secure, req.protocol and req.hostname describe the client's
// request to Caddy (docs/express.md).
app.set("trust proxy", "loopback")

// The request as the application sees it, without helmet: the test
// compares the headers Caddy adds here with the ones helmet sets below.
app.get("/bare", (req, res) => {
	res.json(seen(req))
})

// helmet with its defaults, HSTS included (max-age=31536000;
// includeSubDomains): hardtls must replace it.
app.use(helmet())

app.get("/", (req, res) => {
	res.json(seen(req))
})

// /stream?id=X writes a first chunk and then waits until /release?id=X is
// requested before it writes the last one: the test asks for the release
// only after it has read the first chunk through Caddy.
const waiting = new Map() // id -> function that ends the stream
const released = new Set() // ids released before their stream began
app.get("/stream", (req, res) => {
	const id = String(req.query.id)
	res.type("text/plain")
	res.write("first chunk\n")
	const finish = () => {
		waiting.delete(id)
		clearTimeout(timer)
		res.end("last chunk\n")
	}
	// A forgotten release must not keep a request open for ever.
	const timer = setTimeout(finish, 60000)
	if (released.delete(id)) {
		finish()
		return
	}
	waiting.set(id, finish)
	req.on("close", () => {
		waiting.delete(id)
		clearTimeout(timer)
	})
})
app.get("/release", (req, res) => {
	const id = String(req.query.id)
	const finish = waiting.get(id)
	if (finish) {
		finish()
	} else {
		released.add(id)
	}
	res.json({released: id, waiting: Boolean(finish)})
})

// /hints sends a 103 Early Hints response that carries an HSTS field of
// its own, then the response with helmet's, then trailers with another:
// behind hardtls none of them may reach a plain-HTTP client. The Link
// hint and the X-Trailer-Check trailer show that the 103 and the
// trailers themselves got through.
app.get("/hints", (req, res) => {
	res.writeEarlyHints({link: "</style.css>; rel=preload; as=style", "strict-transport-security": "max-age=1"})
	res.setHeader("Trailer", "Strict-Transport-Security, X-Trailer-Check")
	res.type("text/plain")
	res.write("body\n")
	res.addTrailers({"Strict-Transport-Security": "max-age=2", "X-Trailer-Check": "yes"})
	res.end()
})

function seen(req) {
	return {
		secure: req.secure,
		protocol: req.protocol,
		hostname: req.hostname,
		ip: req.ip,
		x_forwarded_proto: req.get("X-Forwarded-Proto") ?? null,
		x_forwarded_host: req.get("X-Forwarded-Host") ?? null,
	}
}

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
	const {address, port} = server.address()
	console.log(`listening on ${address}:${port}`)
})
process.stdin.resume()
process.stdin.on("end", () => process.exit(0))
