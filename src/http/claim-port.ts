import { createServer } from 'node:net'

/** Binds host:port without SO_REUSEPORT and releases it: fails if another process holds it. */
export function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address()
      const claimed = typeof address === 'object' && address !== null ? address.port : port
      server.close(() => resolve(claimed))
    })
  })
}
