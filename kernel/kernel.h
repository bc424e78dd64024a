/* kernel.h -- the Jupyter kernel of ember (SPEC 2, 6): `ember kernel -f
 * CONNECTION_FILE` and `ember install-kernel [--user] [--prefix DIR]`.
 *
 * The kernel speaks the Jupyter messaging protocol 5.3 over ZeroMQ (shell,
 * control, iopub, stdin and heartbeat sockets, every message signed with
 * HMAC-SHA256) and runs cells through the session library (repl.h), like
 * the terminal REPL does. It is an ordinary client of repl.h and engine/'s
 * public headers.
 *
 * Process model: the thread that calls krn_kernel_main() owns the session
 * and the shell and stdin sockets and runs cells; a control thread answers
 * interrupt, shutdown and kernel_info requests at any time; a heartbeat
 * thread echoes; an iopub thread owns the PUB socket and turns what cells
 * and executors write to stdout/stderr (fds 1 and 2, replaced by pipes
 * before the session starts) into stream messages. SIGINT interrupts too.
 *
 * Ownership: both entry points own everything they create and release it
 *   before returning; krn_kernel_main() stops the session's executors
 *   (repl_free) on shutdown, and executors die with the process if it is
 *   killed (they watch their parent).
 * Thread-safety: call once per process, from the main thread: the kernel
 *   redirects the process's fds 0, 1 and 2 and installs a SIGINT handler.
 * Errors: the return value is the process exit status: 0 after a
 *   shutdown_request (or SIGTERM, or the death of the process named by
 *   JPY_PARENT_PID, as ipykernel does), 1 if the connection file cannot be used or a socket
 *   cannot be bound (the reason on stderr), 2 for a usage error. Bad
 *   messages (signature, framing, JSON) are logged on the original stderr
 *   and dropped; they never stop the kernel.
 */
#ifndef KRN_KERNEL_H
#define KRN_KERNEL_H

#define KRN_API __attribute__((visibility("default")))

/* `ember kernel -f CONNECTION_FILE [--master URL]`: argv[0] is the program,
 * argv[1] "kernel". The engine is --master, else EMBER_MASTER, else
 * local[*]. Returns when the kernel is shut down. */
KRN_API int krn_kernel_main(int argc, char **argv);

/* `ember install-kernel [--user] [--prefix DIR] [--exe PATH]`: argv[1] is
 * "install-kernel". Writes kernel.json (argv: this binary's absolute path
 * or --exe PATH (for `make install DESTDIR=...`),
 * "kernel", "-f", "{connection_file}"; display_name "ember (C)"; language
 * "c"; interrupt_mode "message") and logo-32x32.png / logo-64x64.png into
 * DIR/share/jupyter/kernels/ember/ (--prefix), the user's Jupyter data dir
 * (--user: $JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
 * ~/.local/share/jupyter), or /usr/local/share/jupyter (default). */
KRN_API int krn_install_main(int argc, char **argv);

#endif
