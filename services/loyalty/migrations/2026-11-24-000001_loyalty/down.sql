DROP TABLE balances; DROP TABLE ledger;
