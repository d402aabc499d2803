-- Rules every KPI query shares (docs/data-contract.md), one definition each.
-- An unanswered call is abandoned when its wait reached the short-abandon threshold or is
-- unknown (NULL); short abandoned when its wait is known and below the threshold.
CREATE MACRO is_abandoned(answered, wait, threshold) AS
    NOT answered AND (wait >= threshold OR wait IS NULL);
CREATE MACRO is_short_abandoned(answered, wait, threshold) AS
    NOT answered AND wait < threshold;
