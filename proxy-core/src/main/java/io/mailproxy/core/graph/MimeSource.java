package io.mailproxy.core.graph;

import java.io.IOException;
import java.io.InputStream;

/**
 * A MIME message (or one part's content) that Graph's client reads when it sends the request, on its own threads:
 * a spool file, a temporary file, a slice of either. Opened once per request (again on a retry).
 */
public interface MimeSource {

    /** Length in bytes of what {@link #open()} yields. */
    long size();

    /** A fresh stream from the first byte; the caller closes it. May block (file I/O). */
    InputStream open() throws IOException;
}
