#!/usr/bin/env node
'use strict';
// The dock CLI on Node; bin/dock runs it after setting NODE_EXTRA_CA_CERTS aside.
require('./launch.js')('dock');
