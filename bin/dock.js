#!/usr/bin/env node
'use strict';
// The dock CLI on Node; bin/dock runs it (through skiff-front and the warm server when it can)
// after setting NODE_EXTRA_CA_CERTS aside.
require('./launch.js')('dock').main(process.argv.slice(2));
