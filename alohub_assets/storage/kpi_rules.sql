-- Rules every KPI query shares (docs/data-contract.md), one definition each.
-- An unanswered call is abandoned when its wait reached the short-abandon threshold or is
-- unknown (NULL); short abandoned when its wait is known and below the threshold. A call with no
-- end time (listed while still going on, by a server that lists calls from their start) is
-- neither yet: offered, and answered once connected.
CREATE MACRO is_abandoned(answered, wait, call_end, threshold) AS
    NOT answered AND call_end IS NOT NULL AND (wait >= threshold OR wait IS NULL);
CREATE MACRO is_short_abandoned(answered, wait, call_end, threshold) AS
    NOT answered AND call_end IS NOT NULL AND wait < threshold;
