// The official JS packages against the emulator, one command per run. Every result is one JSON line on stdout.
//   node official.js list CONNECTION_STRING HUB GROUP MAX_PAGE_SIZE
//       @azure/web-pubsub: every member of GROUP, page by page, following each nextLink as the SDK does
//       -> {"ids": [...], "pages": N} or {"error": "..."}
//   node official.js handler HUB   (then the endpoint to allow, one line on stdin)
//       @azure/web-pubsub-express behind express on a free loopback port; its connect handler names the user "js-user"
//       -> {"port": N}, then {"event": "connect", "connectionId": "..."} per connect; runs until stdin closes
//   node official.js client URL
//       @azure/web-pubsub-client (json.reliable.webpubsub.azure.v1, no auto reconnect)
//       -> {"event": "connected", "connectionId": "..."}, {"event": "disconnected", "message": ...}, {"event": "stopped"}
'use strict'

function out (value) {
  process.stdout.write(JSON.stringify(value) + '\n')
}

async function list (connectionString, hub, group, maxPageSize) {
  const { WebPubSubServiceClient } = require('@azure/web-pubsub')
  // the emulator serves plain http on loopback
  const service = new WebPubSubServiceClient(connectionString, hub, { allowInsecureConnection: true })
  const ids = []
  let pages = 0
  try {
    // (1.2.0 returns the pager wrapped in a promise)
    const members = await service.group(group).listConnections({ maxPageSize: Number(maxPageSize) })
    for await (const page of members.byPage()) {
      pages += 1
      for (const member of page) ids.push(member.connectionId)
    }
    out({ ids, pages })
  } catch (err) {
    out({ error: String(err && err.message ? err.message : err), status: err && err.statusCode })
  }
}

function handler (hub) {
  // the endpoint to allow comes on stdin once the emulator runs (its port is only known then)
  const express = require('express')
  const { WebPubSubEventHandler } = require('@azure/web-pubsub-express')
  let middleware = null
  const app = express()
  app.use((req, res, next) => (middleware ? middleware(req, res, next) : res.sendStatus(503)))
  const server = app.listen(0, '127.0.0.1', () => out({ port: server.address().port }))
  require('readline').createInterface({ input: process.stdin }).on('line', (allowedEndpoint) => {
    const events = new WebPubSubEventHandler(hub, {
      path: '/eventhandler',
      allowedEndpoints: [allowedEndpoint.trim()],
      handleConnect: (req, res) => {
        out({ event: 'connect', connectionId: req.context.connectionId })
        res.success({ userId: 'js-user' })
      }
    })
    middleware = events.getMiddleware()
  }).on('close', () => server.close(() => process.exit(0)))
}

function client (url) {
  const { WebPubSubClient } = require('@azure/web-pubsub-client')
  const ws = new WebPubSubClient(url, { autoReconnect: false })
  ws.on('connected', (e) => out({ event: 'connected', connectionId: e.connectionId }))
  ws.on('disconnected', (e) => out({ event: 'disconnected', message: e.message ? e.message.message : null }))
  ws.on('stopped', () => {
    out({ event: 'stopped' })
    process.exit(0)
  })
  ws.start().catch((err) => {
    out({ error: String(err && err.message ? err.message : err) })
    process.exit(1)
  })
}

const [command, ...args] = process.argv.slice(2)
if (command === 'list') list(...args)
else if (command === 'handler') handler(...args)
else if (command === 'client') client(...args)
else {
  out({ error: `unknown command ${command}` })
  process.exit(2)
}
