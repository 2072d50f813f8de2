import type { CatalogIndex } from '../../../catalog/catalog-index.js'
import type { AdFilter } from '../ad-filter.js'
import { AD_FILTER_NAMES } from '../filter-names.js'
import { BadvFilter, BattrFilter, BcatFilter, BrandSafetyFilter, StatusFilter } from './block-filters.js'
import { KeyValueFilter } from './key-value-filter.js'
import { createListFilters } from './list-filters.js'
import {
  AdvertiserPublisherFilter,
  CategoryCountryFilter,
  DomainMinCpmFilter,
  MinViewabilityFilter,
  PlacementAttributeFilter,
  PublisherCategoryFilter,
} from './policy-filters.js'
import { FloorFilter, FormatFilter } from './range-filters.js'
import { DaypartFilter, FlightFilter } from './schedule-filters.js'
import {
  CountryFilter,
  DeviceTypeFilter,
  PageCategoryFilter,
  RelevanceFilter,
  UserCategoryFilter,
} from './targeting-filters.js'

/** Every ad filter bound to one catalog, at the position of its name in AD_FILTER_NAMES. */
export function createAdFilters(ix: CatalogIndex): AdFilter[] {
  const lists = createListFilters(ix)
  const filters: AdFilter[] = [
    new FormatFilter(ix),
    new FloorFilter(ix),
    new StatusFilter(ix),
    new FlightFilter(ix),
    new DaypartFilter(ix),
    new CountryFilter(ix),
    lists.region,
    new DeviceTypeFilter(ix),
    lists.os,
    lists.siteDomain,
    lists.blockedDomain,
    lists.publisher,
    lists.blockedPublisher,
    new PageCategoryFilter(ix),
    new UserCategoryFilter(ix),
    new RelevanceFilter(ix),
    new BrandSafetyFilter(ix),
    new BadvFilter(ix),
    new BcatFilter(ix),
    new BattrFilter(ix),
    new KeyValueFilter(ix),
    new AdvertiserPublisherFilter(ix),
    new CategoryCountryFilter(ix),
    new PlacementAttributeFilter(ix),
    new MinViewabilityFilter(ix),
    new PublisherCategoryFilter(ix),
    new DomainMinCpmFilter(ix),
  ]
  filters.forEach((f, i) => {
    if (f.name !== AD_FILTER_NAMES[i])
      throw new Error(`filter ${f.name} out of place (expected ${AD_FILTER_NAMES[i]})`)
  })
  return filters
}
