/** Configuration: HOCON (Typesafe Config) loaded once into immutable, validated records. */
package io.mailproxy.core.config;
