// End-to-end through the shipped deploy/nginx/gitward-proxy.conf: nginx (TLS) → gitward (unix socket).
import { defineScenarios } from './scenarios.js';

defineScenarios('proxy');
