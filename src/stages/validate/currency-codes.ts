/**
 * ISO 4217 List One (current currency and funds codes), as of 2026: national currencies, funds
 * codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals, bond-market units, SDR and
 * the testing / no-currency codes that the list also carries (XTS, XXX).
 *
 * Left out on purpose, because ISO has withdrawn them: HRK (euro, 2023), SLL (redenominated to
 * SLE), ZWL (replaced by ZWG, 2024), ANG (replaced by XCG, 2025), CUC (abolished), BGN (euro, 2026).
 * A publisher still sending one of them gets a 400 naming the field rather than a silent mis-pricing.
 * Codes are upper case, as the standard writes them.
 */
const CODES = `
  AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD
  BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
  DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
  IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
  LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
  NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
  SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
  TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB
  XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
`

export const ISO_4217_CODES: ReadonlySet<string> = new Set(CODES.trim().split(/\s+/))

export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && ISO_4217_CODES.has(value)
}
