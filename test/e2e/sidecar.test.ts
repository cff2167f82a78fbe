// End-to-end through the shipped deploy/nginx/gitward-sidecar.conf: nginx (TLS, auth_request to
// gitward) → fcgiwrap → git-http-backend.
import { defineScenarios } from './scenarios.js';

defineScenarios('sidecar');
