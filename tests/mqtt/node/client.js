// A real MQTT.js 5 client for the tests, driven over stdin/stdout, one JSON object per line.
// Commands (stdin):
//   {"op": "connect", "url": "ws://...", "options": {...}}   MQTT.js options (clientId, protocolVersion, clean, ...)
//   {"op": "subscribe", "topic": "t", "options": {"qos": 1}}   -> {"event": "suback", "granted": [...]}
//                                                              or {"event": "suback-error", "granted": [<codes>]}
//   {"op": "unsubscribe", "topic": "t"}                        -> {"event": "unsuback", "packet": {...}}
//   {"op": "publish", "topic": "t", "payload": "<base64>", "options": {...}} -> {"event": "published"} / "error"
//   {"op": "end", "options": {...}}                            -> {"event": "ended"}
// Events (stdout): connect (sessionPresent, properties), message (topic, payload base64, qos, dup, properties),
// disconnect (reasonCode, properties), close, error (message, code), plus the answers above.
'use strict'
const mqtt = require('mqtt')
const readline = require('readline')

let client = null
const out = (value) => process.stdout.write(JSON.stringify(value) + '\n')
const plain = (value) => JSON.parse(JSON.stringify(value || {}, (k, v) =>
  v && v.type === 'Buffer' && Array.isArray(v.data) ? { $base64: Buffer.from(v.data).toString('base64') } : v))

function decodeOptions (options) {
  const props = options && options.properties
  if (props && props.correlationData) props.correlationData = Buffer.from(props.correlationData, 'base64')
  return options || {}
}

const commands = {
  connect (cmd) {
    client = mqtt.connect(cmd.url, Object.assign({ reconnectPeriod: 0, connectTimeout: 5000 }, cmd.options))
    client.on('connect', (packet) => out({ event: 'connect', sessionPresent: packet.sessionPresent, properties: plain(packet.properties) }))
    client.on('message', (topic, payload, packet) => out({
      event: 'message', topic, payload: payload.toString('base64'), qos: packet.qos, dup: packet.dup, properties: plain(packet.properties)
    }))
    client.on('disconnect', (packet) => out({ event: 'disconnect', reasonCode: packet.reasonCode, properties: plain(packet.properties) }))
    client.on('close', () => out({ event: 'close' }))
    client.on('error', (err) => out({ event: 'error', message: err.message, code: err.code === undefined ? null : err.code }))
  },
  subscribe (cmd) {
    client.subscribe(cmd.topic, cmd.options || { qos: 0 }, (err, granted, packet) => {
      if (err) out({ event: 'suback-error', message: err.message, granted: packet ? packet.granted : null })
      else out({ event: 'suback', granted: granted.map((g) => ({ topic: g.topic, qos: g.qos })) })
    })
  },
  unsubscribe (cmd) {
    client.unsubscribe(cmd.topic, (err, packet) => {
      if (err) out({ event: 'error', message: err.message, code: null })
      else out({ event: 'unsuback', packet: plain(packet) })
    })
  },
  publish (cmd) {
    client.publish(cmd.topic, Buffer.from(cmd.payload, 'base64'), decodeOptions(cmd.options), (err, packet) => {
      if (err) out({ event: 'publish-error', message: err.message, code: err.code === undefined ? null : err.code })
      else out({ event: 'published', reasonCode: packet && packet.reasonCode !== undefined ? packet.reasonCode : null })
    })
  },
  end (cmd) {
    client.end(false, cmd.options || {}, () => out({ event: 'ended' }))
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return
  const cmd = JSON.parse(line)
  try {
    commands[cmd.op](cmd)
  } catch (err) {
    out({ event: 'error', message: String(err && err.message), code: null })
  }
}).on('close', () => {
  if (client) client.end(true)
  setTimeout(() => process.exit(0), 100)
})
