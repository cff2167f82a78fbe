// End-to-end through the shipped deploy/nginx/gitward-proxy.conf with its 127.0.0.1 upstream
// variant: nginx (TLS) → gitward on 127.0.0.1:PORT, which trusts X-Remote-User from 127.0.0.1.
// Every scenario but the big transfer (proxy.test.ts runs that through the same file).
import { defineScenarios } from './scenarios.js';

defineScenarios('proxy-tcp', { bigTransfer: false });
