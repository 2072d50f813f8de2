import { parseSeed, type Seed } from '../catalog/seed.js'

/**
 * Sample data for `npm start` with no configuration: a dozen house ads over common IAB sizes and
 * categories, a few users with preferences, page context for the demo site and one publisher.
 */
export function demoSeed(): Seed {
  const ad = (id: number, category: string, price: string, sizes: string[], adomain: string, extra = {}) => ({
    id: String(id),
    title: `Demo ad ${id} (${category})`,
    category,
    clickURL: `https://${adomain}/landing?ad=${id}`,
    imageURL: `https://cdn.${adomain}/creative-${id}.png`,
    price,
    sizes,
    adomain,
    ...extra,
  })
  return parseSeed(
    {
      ads: [
        ad(1, 'IAB1', '1.20', ['300x250', '728x90'], 'arts.example'),
        ad(2, 'IAB2', '2.10', ['300x250'], 'cars.example'),
        ad(3, 'IAB3', '0.90', ['300x250', '320x50'], 'business.example'),
        ad(4, 'IAB12', '1.75', ['300x250', '728x90', '160x600'], 'news.example'),
        ad(5, 'IAB17', '2.40', ['300x250', '300x600'], 'sports.example'),
        ad(6, 'IAB19', '1.10', ['728x90', '320x50'], 'tech.example'),
        ad(7, 'IAB20', '3.00', ['300x250'], 'travel.example', { targeting: { brandSafe: true } }),
        ad(8, 'IAB8', '0.60', ['300x250', '320x50', '728x90'], 'food.example'),
        ad(9, 'IAB9', '0.80', ['160x600', '300x600'], 'hobbies.example'),
        ad(10, 'IAB22', '1.50', ['300x250', '728x90'], 'shop.example', {
          targeting: { countries: ['USA', 'CAN'] },
        }),
        ad(11, 'IAB12', '0.50', ['300x250', '320x50'], 'daily.example'),
        ad(12, 'IAB19', '2.20', ['300x250'], 'gadgets.example', { targeting: { deviceTypes: [1, 4, 5] } }),
      ],
      users: { u1: ['IAB12', 'IAB19'], u2: ['IAB17', 'IAB20'], u3: ['IAB2'] },
      contexts: {
        domains: { 'news.example': { categories: ['IAB12'], brandSafetyFlags: [], sentiment: 'neutral' } },
        pages: {
          'https://news.example/crime': {
            categories: ['IAB12'],
            brandSafetyFlags: ['violence'],
            sentiment: 'negative',
          },
        },
      },
      publishers: { 'pub-1': { floorCpm: 0.25, bcat: ['IAB25', 'IAB26'], badv: [] } },
    },
    'demo seed',
  )
}
