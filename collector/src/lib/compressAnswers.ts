import compress from '@fastify/compress'
import type { FastifyInstance } from 'fastify'

/**
 * Answers of 1 KB and more compressed (br or gzip, as the client accepts): the dashboard's
 * bundle (~62 KB → ~27 KB) and its JSON, fetched after every look of the detector. Called from
 * the dashboard's and the read API's plugins (@fastify/compress applies to the context that
 * registers it), apart from ingest's request decoding.
 */
export const compressAnswers = (app: FastifyInstance) => app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip'] })
