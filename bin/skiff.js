#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
'use strict';
// The TypeScript CLI on Node (bin/skiff runs it through the native front, addon/front.c).
// NODE_EXTRA_CA_CERTS is dropped by the shebang: parsing a CA bundle costs ~50 ms per start and a
// runtime makes no TLS connection.
require('./launch.js')('skiff').runCli();
