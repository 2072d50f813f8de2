import { type Logger, pino } from 'pino'
import type { Config } from './config/config.js'

/** pino JSON logs; nothing is logged per request at info level. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'rtb-exchange' } })
}
