-- Webhook deliveries already handled, by the forge's delivery id (`X-GitHub-Delivery`,
-- `X-Gitea-Delivery`, `X-Gitlab-Event-UUID`): a signed delivery captured and sent again
-- meets its row here and starts no second run. Written in the transaction that queues the
-- delivery's run, so a delivery that failed (its fetch, say) can be redelivered. Rows older
-- than a day are deleted by the server's housekeeping (a replay window of a day).
CREATE TABLE webhook_deliveries (
    project     TEXT   NOT NULL,
    delivery    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (project, delivery)
);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (received_at);
