"""A 13-week cash-flow forecast.

Pure model code: ``ledger`` (facts and what was known when), ``history`` (learned behaviour),
``distributions``, ``stages`` (portal claims), ``model`` (the forecast), ``backtest``;
``synthetic`` generates realistic history. I/O: ``queries`` loads the ledger from the store,
``bulk`` writes a generated history to it in a few transactions.
"""
