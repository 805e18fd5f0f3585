// The seed's web tier: a Node.js HTTP server on 127.0.0.1 that answers
// GET /predict?sepal_length=..&sepal_width=..&petal_length=..&petal_width=..
// by asking the `predict` service through its edge, with the Node.js
// package (clients/node). The reply is the worker's JSON; a Spillway error
// is a JSON {error, message} with an HTTP status that says what to do.
//
//   node deploy/predict/web.js --edge ENDPOINT --port PORT [--timeout-ms MS]
'use strict'

const http = require('node:http')
const path = require('node:path')
const { Client } = require(path.join(__dirname, '..', '..', 'clients', 'node'))

// HTTP status per Spillway status: the client's fault, try later, or ours.
const HTTP_STATUS = {
  'task-error': 400, 'bad-request': 400, 'too-large': 413,
  overloaded: 503, busy: 503, timeout: 504, 'no-service': 502, failed: 502, forbidden: 502
}

function flag (name, fallback) {
  const at = process.argv.indexOf('--' + name)
  if (at >= 0 && at + 1 < process.argv.length) return process.argv[at + 1]
  if (fallback === undefined) {
    console.error(`usage: node web.js --edge ENDPOINT --port PORT [--timeout-ms MS]; --${name} is missing`)
    process.exit(2)
  }
  return fallback
}

const edge = flag('edge')
const port = Number(flag('port'))
const timeout = Number(flag('timeout-ms', '5000'))
const client = new Client({ edges: [edge] })

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  if (req.method !== 'GET' || url.pathname !== '/predict') {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'not-found', message: 'GET /predict?sepal_length=..' }))
    return
  }
  try {
    const reply = await client.submit('predict', url.searchParams.toString(), { timeout })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(reply)
  } catch (error) {
    res.writeHead(HTTP_STATUS[error.status] || 500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: error.status || 'internal', message: error.message }))
  }
})

server.keepAliveTimeout = 30000
server.listen(port, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${port}/predict`)
})

async function stop () {
  server.close()
  server.closeAllConnections?.()
  await client.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
