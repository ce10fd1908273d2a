"""Upstream payloads in the exact formats the providers send."""

from __future__ import annotations

from typing import Any

DAILY: dict[str, Any] = {
    "Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2025-03-12",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    },
    "Time Series (Daily)": {
        "2025-03-12": {
            "1. open": "248.6100",
            "2. high": "249.9000",
            "3. low": "246.1300",
            "4. close": "248.3500",
            "5. volume": "3810240",
        },
        "2025-03-11": {
            "1. open": "250.0000",
            "2. high": "252.0800",
            "3. low": "247.1400",
            "4. close": "248.6500",
            "5. volume": "4436187",
        },
    },
}
GLOBAL_QUOTE = {
    "Global Quote": {
        "01. symbol": "IBM",
        "02. open": "248.6100",
        "03. high": "249.9000",
        "04. low": "246.1300",
        "05. price": "248.3500",
        "06. volume": "3810240",
        "07. latest trading day": "2025-03-12",
        "08. previous close": "248.6500",
        "09. change": "-0.3000",
        "10. change percent": "-0.1207%",
    }
}
FX_DAILY = {
    "Meta Data": {
        "1. Information": "Forex Daily Prices (open, high, low, close)",
        "2. From Symbol": "USD",
        "3. To Symbol": "GBP",
        "4. Output Size": "Compact",
        "5. Last Refreshed": "2025-03-12",
        "6. Time Zone": "UTC",
    },
    "Time Series FX (Daily)": {
        "2025-03-12": {
            "1. open": "0.7725",
            "2. high": "0.7731",
            "3. low": "0.7702",
            "4. close": "0.77201",
        },
        "2025-03-11": {
            "1. open": "0.7760",
            "2. high": "0.7768",
            "3. low": "0.7719",
            "4. close": "0.77250",
        },
    },
}
EXCHANGE_RATE = {
    "Realtime Currency Exchange Rate": {
        "1. From_Currency Code": "USD",
        "2. From_Currency Name": "United States Dollar",
        "3. To_Currency Code": "JPY",
        "4. To_Currency Name": "Japanese Yen",
        "5. Exchange Rate": "147.89000000",
        "6. Last Refreshed": "2025-03-12 21:55:01",
        "7. Time Zone": "UTC",
        "8. Bid Price": "147.88500000",
        "9. Ask Price": "147.89500000",
    }
}
THROTTLE_NOTE = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
    "minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you "
    "would like to target a higher API call frequency."
}
BURST_INFORMATION = {
    "Information": "Burst pattern detected. Please consider spreading out your free API requests "
    "more sparingly (1 request per second)."
}
DAILY_LIMIT = {
    "Information": "We have detected your API key as DEMO123 and our standard API rate limit is "
    "25 requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
}
PREMIUM = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    "unlock all premium endpoints"
}
INVALID_CALL = {
    "Error Message": "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
}
BAD_KEY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key "
    "on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}
FRANKFURTER_LATEST = (
    '{"amount":1.0,"base":"USD","date":"2025-03-12","rates":{"EUR":0.91979,"GBP":0.77201}}'
)
FRANKFURTER_SERIES = (
    '{"amount":1.0,"base":"USD","start_date":"2025-03-10","end_date":"2025-03-12",'
    '"rates":{"2025-03-10":{"GBP":0.77435},"2025-03-11":{"GBP":0.7725},"2025-03-12":{"GBP":0.77201}}}'
)
