-- A project's push-webhook secret: the HMAC key for GitHub and Gitea signatures, the token
-- GitLab sends. Kept as given (an HMAC key cannot be hashed); never returned by the API.
ALTER TABLE projects ADD COLUMN webhook_secret TEXT;
