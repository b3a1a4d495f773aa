/** The daemon: main, the wiring of core and frontends, the demo. */
package io.mailproxy.daemon;
