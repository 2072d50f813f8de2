import { createMemoryStore, createMemoryStoreData } from './memory-store.js'
import { runStoreContract } from './store.contract.js'

runStoreContract('memory', {
  async fresh() {
    const data = createMemoryStoreData()
    return async () => {
      const store = createMemoryStore({ data })
      await store.connect()
      return store
    }
  },
})
