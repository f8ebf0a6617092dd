import { marketSpec, unitString } from "./market.ts";

/** The part of `GET /api/v3/exchangeInfo` a market-data client reads: limits, and each symbol's filters. */
export function exchangeInfo(symbols: readonly string[], weightLimit: number, serverTime: number) {
  return {
    timezone: "UTC",
    serverTime,
    rateLimits: [
      { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: weightLimit },
      { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100 },
      { rateLimitType: "ORDERS", interval: "DAY", intervalNum: 1, limit: 200_000 },
      { rateLimitType: "RAW_REQUESTS", interval: "MINUTE", intervalNum: 5, limit: 61_000 },
    ],
    exchangeFilters: [],
    symbols: symbols.map((symbol) => {
      const spec = marketSpec(symbol);
      return {
        symbol,
        status: "TRADING",
        baseAsset: spec.baseAsset,
        baseAssetPrecision: 8,
        quoteAsset: spec.quoteAsset,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        baseCommissionPrecision: 8,
        quoteCommissionPrecision: 8,
        orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        icebergAllowed: true,
        ocoAllowed: true,
        quoteOrderQtyMarketAllowed: true,
        allowTrailingStop: true,
        cancelReplaceAllowed: true,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          { filterType: "PRICE_FILTER", minPrice: unitString(spec.priceDecimals), maxPrice: "1000000.00000000", tickSize: unitString(spec.priceDecimals) },
          { filterType: "LOT_SIZE", minQty: unitString(spec.qtyDecimals), maxQty: "9000.00000000", stepSize: unitString(spec.qtyDecimals) },
          { filterType: "MIN_NOTIONAL", minNotional: "5.00000000", applyToMarket: true, avgPriceMins: 5 },
        ],
        permissions: [],
        permissionSets: [["SPOT"]],
        defaultSelfTradePreventionMode: "EXPIRE_MAKER",
        allowedSelfTradePreventionModes: ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
      };
    }),
  };
}
