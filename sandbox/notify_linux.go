package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The supervisor's side of seccomp notification: `sesame up` makes a socket pair per child
// (NewLink), passes one end to the child as the descriptor named by NotifyFDEnv, and runs
// Watch on the other. The role's Apply sends its listener there; Watch logs every system call
// the filter denies, by name, and answers it with EPERM, so the role sees an ordinary error
// and the user a line that says what happened:
//
//	sesame-secrets: seccomp denied socket(0x2, 0x80801, 0x0, 0x0, 0x0, 0x0) = EPERM (pid 4242)
//
// The supervisor never lets a call through: USER_NOTIF is used only to learn the call's name
// and arguments from outside the sandboxed process. Its arguments are numbers as the role
// passed them; pointers are not followed (they could change under the reader).

// NewLink makes the socket pair that carries a child's seccomp listener: parent stays in the
// supervisor (give it to Watch); child goes to the child, whose copy the caller closes once
// the child has started.
func NewLink() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: seccomp link: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "seccomp-link"), os.NewFile(uintptr(fds[1]), "seccomp-link-child"), nil
}

// seccompNotif is struct seccomp_notif; seccompNotifResp is struct seccomp_notif_resp.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// Watch serves one child's seccomp notifications, writing one line per denied call to w,
// prefixed with name. It returns nil when the child is gone (its filter has no more users,
// or it closed the link without sending a listener, e.g. because it failed before its
// sandbox), or when ctx ends. It closes link.
func Watch(ctx context.Context, link *os.File, name string, w io.Writer) error {
	defer link.Close()
	c, err := net.FileConn(link)
	if err != nil {
		return fmt.Errorf("sandbox: watch %s: %w", name, err)
	}
	defer c.Close()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("sandbox: watch %s: not a unix socket", name)
	}
	stop := context.AfterFunc(ctx, func() { uc.Close() })
	defer stop()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil || n == 0 {
		if ctx.Err() != nil || err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("sandbox: watch %s: %w", name, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("sandbox: watch %s: no listener in the hand-off", name)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return fmt.Errorf("sandbox: watch %s: no listener in the hand-off", name)
	}
	// Only a seccomp listener is served: whatever else arrives is closed and reported.
	if target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fds[0])); err != nil || target != "anon_inode:seccomp notify" {
		unix.Close(fds[0])
		return fmt.Errorf("sandbox: watch %s: the hand-off carried %q, not a seccomp listener", name, target)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("sandbox: watch %s: %w", name, err)
	}
	lf := os.NewFile(uintptr(fds[0]), "seccomp-listener")
	defer lf.Close()
	stopL := context.AfterFunc(ctx, func() { lf.Close() })
	defer stopL()
	rc, err := lf.SyscallConn()
	if err != nil {
		return fmt.Errorf("sandbox: watch %s: %w", name, err)
	}
	for {
		gone := false
		err := rc.Read(func(fd uintptr) bool {
			for {
				pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				if _, err := unix.Poll(pfd, 0); err != nil {
					if err == unix.EINTR {
						continue
					}
					gone = true
					return true
				}
				switch ev := pfd[0].Revents; {
				case ev&unix.POLLIN != 0:
					if !serveOne(int(fd), name, w) {
						gone = true
						return true
					}
				case ev&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
					gone = true
					return true
				default:
					return false // nothing pending: wait for the poller
				}
			}
		})
		if gone || err != nil {
			return nil
		}
	}
}

// serveOne receives one notification, logs it and denies it. It reports false when the
// listener is unusable.
func serveOne(fd int, name string, w io.Writer) bool {
	var n seccompNotif
	if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
		// ENOENT: the caller was interrupted, or died, before we took it.
		return errors.Is(err, unix.ENOENT)
	}
	line := fmt.Sprintf("%s: seccomp denied %s(%s) = EPERM (pid %d)\n", name, sysName(n.nr), hexArgs(n.args), n.pid)
	io.WriteString(w, line)
	resp := seccompNotifResp{id: n.id, error: -int32(unix.EPERM)}
	ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)) // ENOENT: the caller is gone
	return true
}

func hexArgs(a [6]uint64) string {
	s := make([]string, len(a))
	for i, v := range a {
		s[i] = fmt.Sprintf("%#x", v)
	}
	return strings.Join(s, ", ")
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}
