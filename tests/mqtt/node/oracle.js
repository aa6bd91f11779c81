// An independent MQTT codec for the tests: npm mqtt-packet, driven over stdin/stdout, one JSON request per line.
//   {"op": "parse", "hex": "...", "version": 4}      -> {"packets": [...]} or {"error": "..."}
//   {"op": "generate", "packet": {...}, "version": 4} -> {"hex": "..."} or {"error": "..."}
// Buffers travel as {"$hex": "..."} in both directions.
'use strict'
const mqtt = require('mqtt-packet')
const readline = require('readline')

function toJson (value) {
  if (Buffer.isBuffer(value)) return { $hex: value.toString('hex') }
  if (Array.isArray(value)) return value.map(toJson)
  if (value && typeof value === 'object') {
    const out = {}
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v)
    return out
  }
  return value
}

function fromJson (value) {
  if (Array.isArray(value)) return value.map(fromJson)
  if (value && typeof value === 'object') {
    if (typeof value.$hex === 'string') return Buffer.from(value.$hex, 'hex')
    const out = {}
    for (const [k, v] of Object.entries(value)) out[k] = fromJson(v)
    return out
  }
  return value
}

function handle (request) {
  if (request.op === 'parse') {
    const parser = mqtt.parser({ protocolVersion: request.version })
    const packets = []
    let error = null
    parser.on('packet', (p) => packets.push(toJson(p)))
    parser.on('error', (e) => { error = error || String(e.message || e) })
    parser.parse(Buffer.from(request.hex, 'hex'))
    return error ? { error, packets } : { packets }
  }
  if (request.op === 'generate') {
    const bytes = mqtt.generate(fromJson(request.packet), { protocolVersion: request.version })
    return { hex: bytes.toString('hex') }
  }
  return { error: 'unknown op' }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let answer
  try {
    answer = handle(JSON.parse(line))
  } catch (e) {
    answer = { error: String(e.message || e) }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
})
