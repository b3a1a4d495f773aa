package io.mailproxy.core.credentials;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/** Owner-only file modes for the store, its key and its lock (POSIX file systems; others are not checked). */
final class FilePermissions {
    private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private FilePermissions() { }

    static FileAttribute<Set<PosixFilePermission>> ownerOnly() {
        return PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    }

    static boolean posix(Path dir) {
        return Files.getFileAttributeView(dir, PosixFileAttributeView.class) != null
                && dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    /** Refuses a file that group or others can read or write, naming the file and the fix. */
    static void requirePrivate(Path file, String what) {
        if (!posix(file.getParent() == null ? file.toAbsolutePath().getParent() : file.getParent())) {
            return;
        }
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (IOException e) {
            throw new SecretStoreException("cannot read the permissions of " + what + " " + file + ": "
                    + e.getMessage(), e);
        }
        Set<PosixFilePermission> open = EnumSet.copyOf(GROUP_OR_OTHERS);
        open.retainAll(perms);
        if (!open.isEmpty()) {
            throw new SecretStoreException(what + " " + file + " is accessible by group or others (mode "
                    + PosixFilePermissions.toString(perms) + "); refusing to use it. Fix: chmod 600 " + file);
        }
    }
}
