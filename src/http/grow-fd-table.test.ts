import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { growFdTable } from './grow-fd-table.js'

describe('growFdTable', () => {
  it('opens up to the count asked and closes every descriptor it opened', () => {
    const openBefore = readdirSync('/proc/self/fd').length
    const opened = growFdTable(512)
    assert.equal(opened, 512)
    // readdirSync itself holds one descriptor while listing: compare like with like.
    assert.equal(readdirSync('/proc/self/fd').length, openBefore)
  })
})
