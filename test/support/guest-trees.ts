/**
 * Root filesystems in the formats of current distributions, as their installers and cloud images
 * leave them: os-release (with the usual /etc/os-release symlink), hostname, login.defs, PAM's
 * password stack, SELinux config, passwd and shadow with a real spread of password states
 * (yescrypt, SHA-512, locked `!`/`!!`/`!hash`, `*`, empty, forced change), and the files that
 * decide which crypt the guest can read. Hashes were made with libxcrypt; the passwords are known
 * so tests can check every untouched account still logs in.
 */
import type { MemoryTreeSpec } from './memory-tree.js';

export interface GuestFixture {
  name: string;
  files: MemoryTreeSpec;
  /** Mode, owner and group of /etc/shadow (and shadow-) as the distribution ships them. */
  shadowMode: number;
  shadowGid: number;
  /** security.selinux of /etc/shadow on SELinux distributions. */
  selinuxLabel?: string;
  expectedLabel: string;
  /** Known passwords of accounts that have one. */
  passwords: Record<string, string>;
}

const HASH = {
  debianRoot: '$y$j9T$6n71zsezNxhhpvX5$EFKgwCp5Vl9GyGZ/5pvAkVpC3Fhex7GjPAvANb.Nv.D',
  debianUser: '$y$j9T$0lPntZ5PaV1z8F.k$.RP9wo.oMvJfx7IcrH8yS5QuHG.ywitKtLmknva8mq0',
  temp: '$y$j9T$K6AX1oQzv6b0974a$XwMbVa8Z0KOhmMOPsHqx2MGkQnzzyLOUierLUjDlE51',
  ubuntu: '$y$j9T$Oz/Lnjt2F8LQnesk$ELiyWYzcLhZE0ITjACR5oE2PeJuNxJV6Mg/0JFwtb21',
  rockyRoot:
    '$6$KJs3IPVNeZXpliOt$fO8iqBABhQYa93iAKcjQkEkM0x4DZnnpTRG7nPBgDweOrqCfgPzaSTIr6deZjeEsSSrKixMHeFOg73IJmQt/40',
  rockyAdmin:
    '$6$rounds=100000$aH8Jn7eoMPsxnoyC$DmZYJDb8nqwBhxxeH4Us2NGgvBxDgVSyOQ5viTxV1TPBWIQGG53Msvl6wO1XiZwhgy19WuPW/udCzN9f2c0oo.',
  fedora: '$y$j9T$VPnHYeVZqIcdPFot$zdQ40.AnpJqB3pBlwZQW9R5WAUkQKGcIH3TsaHk0m33',
  alpine:
    '$6$JzlAwwvNN8GSGWD5$TU4WZrLWZ2jXErHKaVq8uGdE81XABlcPilnUreLQLXBN2IAHh8P9cVSpX1YJMVKEY8HoY7kcSXlaYa4che8DG1',
  oldMd5: '$1$6PEcX6q1$xQROMQJyMGxKP8jPJYSTH0',
};

export const ALL_HASHES: string[] = Object.values(HASH);

const lines = (...text: string[]): string => `${text.join('\n')}\n`;

const DEBIAN_PAM_COMMON_PASSWORD = lines(
  '#',
  '# /etc/pam.d/common-password - password-related modules common to all services',
  '#',
  '# The "yescrypt" option enables',
  '#hashed passwords using the yescrypt algorithm, introduced in Debian',
  '#11.  Without this option, the default is Unix crypt.  Prior releases',
  '#used the option "sha512"; if a shadow password hash will be shared',
  '#between Debian 11 and older releases replace "yescrypt" with "sha512"',
  '#for compatibility .  The "obscure" option replaces the old',
  "#`OBSCURE_CHECKS_ENAB' option in login.defs.",
  '#',
  '# here are the per-package modules (the "Primary" block)',
  'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt',
  "# here's the fallback if no module succeeds",
  'password\trequisite\t\t\tpam_deny.so',
  'password\trequired\t\t\tpam_permit.so',
  '# and here are more per-package modules (the "Additional" block)',
  '# end of pam-auth-update config',
);

const DEBIAN_PAM_PASSWD = lines(
  '#',
  "# The PAM configuration file for the Shadow `passwd' service",
  '#',
  '',
  '@include common-password',
);

/** The parts of Debian's and Ubuntu's login.defs that matter here: it still says SHA512. */
const DEBIAN_LOGIN_DEFS = lines(
  '#',
  '# /etc/login.defs - Configuration control definitions for the login package.',
  '#',
  'MAIL_DIR        /var/mail',
  'PASS_MAX_DAYS\t99999',
  'PASS_MIN_DAYS\t0',
  'PASS_WARN_AGE\t7',
  'UID_MIN\t\t\t 1000',
  'UID_MAX\t\t\t60000',
  '#',
  '# If set to MD5, MD5-based algorithm will be used for encrypting password',
  '# If set to SHA256, SHA256-based algorithm will be used for encrypting password',
  '# If set to SHA512, SHA512-based algorithm will be used for encrypting password',
  '# If set to DES, DES-based algorithm will be used for encrypting password (default)',
  '# Overrides the MD5_CRYPT_ENAB option',
  '#',
  '# Note: It is recommended to use a value consistent with',
  '# the PAM modules configuration.',
  '#',
  'ENCRYPT_METHOD SHA512',
  '#',
  '# Only works if ENCRYPT_METHOD is set to SHA256 or SHA512.',
  '#',
  '#SHA_CRYPT_MIN_ROUNDS 5000',
  '#SHA_CRYPT_MAX_ROUNDS 5000',
);

const DEBIAN_BASE_PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'bin:x:2:2:bin:/bin:/usr/sbin/nologin',
  'sys:x:3:3:sys:/dev:/usr/sbin/nologin',
  'sync:x:4:65534:sync:/bin:/bin/sync',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '_apt:x:42:65534::/nonexistent:/usr/sbin/nologin',
  'systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin',
  'messagebus:x:100:107::/nonexistent:/usr/sbin/nologin',
  'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin',
];

const DEBIAN_BASE_SHADOW = [
  'daemon:*:19700:0:99999:7:::',
  'bin:*:19700:0:99999:7:::',
  'sys:*:19700:0:99999:7:::',
  'sync:*:19700:0:99999:7:::',
  'nobody:*:19700:0:99999:7:::',
  '_apt:*:19700:0:99999:7:::',
  'systemd-network:!*:19700::::::',
  'messagebus:!:19700::::::',
  'sshd:!:19700::::::',
];

/** Debian 12 as the installer leaves it: merged /usr, yescrypt through PAM, shadow 0640 root:shadow. */
export function debian12(libcrypt: Buffer): GuestFixture {
  return {
    name: 'Debian 12',
    expectedLabel: 'Debian GNU/Linux 12 root',
    shadowMode: 0o640,
    shadowGid: 42,
    passwords: { root: 'debian-root', debian: 'debian-user', temp: 'temp-pw' },
    files: {
      '/usr/lib/os-release': lines(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
        'NAME="Debian GNU/Linux"',
        'VERSION_ID="12"',
        'VERSION="12 (bookworm)"',
        'VERSION_CODENAME=bookworm',
        'ID=debian',
        'HOME_URL="https://www.debian.org/"',
        'SUPPORT_URL="https://www.debian.org/support"',
        'BUG_REPORT_URL="https://bugs.debian.org/"',
      ),
      '/etc/os-release': { symlink: '../usr/lib/os-release' },
      '/bin': { symlink: 'usr/bin' },
      '/lib': { symlink: 'usr/lib' },
      '/sbin': { symlink: 'usr/sbin' },
      '/usr/bin/sh': { symlink: 'dash' },
      '/usr/bin/dash': Buffer.from('\x7fELF dash stand-in\n'),
      '/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0': libcrypt,
      '/usr/lib/x86_64-linux-gnu/libcrypt.so.1': { symlink: 'libcrypt.so.1.1.0' },
      '/etc/hostname': 'bookworm-vm\n',
      '/etc/login.defs': DEBIAN_LOGIN_DEFS,
      '/etc/pam.d/common-password': DEBIAN_PAM_COMMON_PASSWORD,
      '/etc/pam.d/passwd': DEBIAN_PAM_PASSWD,
      '/etc/group': lines('root:x:0:', 'shadow:x:42:', 'debian:x:1000:', 'temp:x:1002:'),
      '/etc/gshadow': lines('root:*::', 'shadow:*::', 'debian:!::', 'temp:!::'),
      '/etc/passwd': lines(
        ...DEBIAN_BASE_PASSWD,
        'debian:x:1000:1000:Debian,,,:/home/debian:/bin/bash',
        'guest:x:1001:1001::/home/guest:/bin/bash',
        'temp:x:1002:1002:Temp User:/home/temp:/bin/bash',
      ),
      '/etc/shadow': lines(
        `root:${HASH.debianRoot}:19700:0:99999:7:::`,
        ...DEBIAN_BASE_SHADOW,
        `debian:${HASH.debianUser}:19700:0:99999:7:::`,
        'guest::19700:0:99999:7:::',
        // chage -d 0: must change at next login; and an account expiry set.
        `temp:${HASH.temp}:0:0:99999:7::19800:`,
      ),
      '/home/debian/.bashrc': '# ~/.bashrc\n',
      '/var/log/installer/status': Buffer.alloc(3000, 7),
    },
  };
}

/** Ubuntu 22.04 cloud image: root locked with `*`, the default user locked by passwd -l (`!` + yescrypt). */
export function ubuntu2204(): GuestFixture {
  return {
    name: 'Ubuntu 22.04',
    expectedLabel: 'Ubuntu 22.04 root',
    shadowMode: 0o640,
    shadowGid: 42,
    passwords: { ubuntu: 'ubuntu-pw' },
    files: {
      '/usr/lib/os-release': lines(
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"',
        'NAME="Ubuntu"',
        'VERSION_ID="22.04"',
        'VERSION="22.04.4 LTS (Jammy Jellyfish)"',
        'VERSION_CODENAME=jammy',
        'ID=ubuntu',
        'ID_LIKE=debian',
        'HOME_URL="https://www.ubuntu.com/"',
        'SUPPORT_URL="https://help.ubuntu.com/"',
        'BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"',
        'PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"',
        'UBUNTU_CODENAME=jammy',
      ),
      '/etc/os-release': { symlink: '../usr/lib/os-release' },
      '/bin': { symlink: 'usr/bin' },
      '/usr/bin/sh': { symlink: 'dash' },
      '/usr/bin/dash': Buffer.from('\x7fELF dash stand-in\n'),
      '/etc/hostname': 'ubuntu\n',
      '/etc/login.defs': DEBIAN_LOGIN_DEFS,
      '/etc/pam.d/common-password': DEBIAN_PAM_COMMON_PASSWORD,
      '/etc/pam.d/passwd': DEBIAN_PAM_PASSWD,
      '/etc/passwd': lines(...DEBIAN_BASE_PASSWD, 'ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash'),
      '/etc/shadow': lines(
        'root:*:19773:0:99999:7:::',
        ...DEBIAN_BASE_SHADOW,
        `ubuntu:!${HASH.ubuntu}:19800:0:99999:7:::`,
      ),
      '/etc/cloud/cloud.cfg': 'users:\n  - default\n',
    },
  };
}

/**
 * Rocky Linux 9.4 (RHEL 9 family): SHA-512 through authselect's system-auth (reached by an
 * absolute symlink), SELinux enforcing, shadow mode 0000 labelled shadow_t, `!!` from useradd.
 */
export function rocky94(libcrypt: Buffer): GuestFixture {
  return {
    name: 'Rocky Linux 9.4',
    expectedLabel: 'Rocky Linux 9.4 root',
    shadowMode: 0o000,
    shadowGid: 0,
    selinuxLabel: 'system_u:object_r:shadow_t:s0',
    passwords: { root: 'rocky-root', admin: 'rocky-admin' },
    files: {
      '/etc/os-release': { symlink: '../usr/lib/os-release' },
      '/usr/lib/os-release': lines(
        'NAME="Rocky Linux"',
        'VERSION="9.4 (Blue Onyx)"',
        'ID="rocky"',
        'ID_LIKE="rhel centos fedora"',
        'VERSION_ID="9.4"',
        'PLATFORM_ID="platform:el9"',
        'PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"',
        'ANSI_COLOR="0;32"',
        'LOGO="fedora-logo-icon"',
        'CPE_NAME="cpe:/o:rocky:rocky:9::baseos"',
        'HOME_URL="https://rockylinux.org/"',
        'BUG_REPORT_URL="https://bugs.rockylinux.org/"',
        'SUPPORT_END="2032-05-31"',
        'ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"',
        'ROCKY_SUPPORT_PRODUCT_VERSION="9.4"',
        'REDHAT_SUPPORT_PRODUCT="Rocky Linux"',
        'REDHAT_SUPPORT_PRODUCT_VERSION="9.4"',
      ),
      '/bin': { symlink: 'usr/bin' },
      '/lib64': { symlink: 'usr/lib64' },
      '/usr/bin/sh': { symlink: 'bash' },
      '/usr/bin/bash': Buffer.from('\x7fELF bash stand-in\n'),
      '/usr/lib64/libcrypt.so.2.0.0': libcrypt,
      '/usr/lib64/libcrypt.so.2': { symlink: 'libcrypt.so.2.0.0' },
      '/etc/hostname': 'rocky9.example.com\n',
      '/etc/selinux/config': lines(
        '',
        '# This file controls the state of SELinux on the system.',
        '# SELINUX= can take one of these three values:',
        '#     enforcing - SELinux security policy is enforced.',
        '#     permissive - SELinux prints warnings instead of enforcing.',
        '#     disabled - No SELinux policy is loaded.',
        'SELINUX=enforcing',
        '# SELINUXTYPE= can take one of these three values:',
        '#     targeted - Targeted processes are protected,',
        '#     minimum - Modification of targeted policy. Only selected processes are protected.',
        '#     mls - Multi Level Security protection.',
        'SELINUXTYPE=targeted',
        '',
      ),
      '/etc/login.defs': lines(
        '#',
        '# Use SHA512 to encrypt password.',
        'ENCRYPT_METHOD SHA512',
        '',
        'PASS_MAX_DAYS\t99999',
        'PASS_MIN_DAYS\t0',
        'PASS_WARN_AGE\t7',
      ),
      '/etc/authselect/system-auth': lines(
        '# Generated by authselect on Thu May  2 10:00:00 2024',
        '# Do not modify this file manually.',
        '',
        'auth        required                                     pam_env.so',
        'auth        sufficient                                   pam_unix.so nullok',
        'auth        required                                     pam_deny.so',
        '',
        'password    requisite                                    pam_pwquality.so local_users_only',
        'password    sufficient                                   pam_unix.so sha512 shadow nullok use_authtok',
        'password    required                                     pam_deny.so',
      ),
      '/etc/pam.d/system-auth': { symlink: '/etc/authselect/system-auth' },
      '/etc/pam.d/passwd': lines(
        '#%PAM-1.0',
        'auth       include\tsystem-auth',
        'account    include\tsystem-auth',
        'password   substack\tsystem-auth',
        '-password   optional\tpam_gnome_keyring.so use_authtok',
        'password   substack\tpostlogin',
      ),
      '/etc/pam.d/postlogin': lines('#%PAM-1.0', 'session optional pam_umask.so silent'),
      '/etc/passwd': lines(
        'root:x:0:0:root:/root:/bin/bash',
        'bin:x:1:1:bin:/bin:/sbin/nologin',
        'daemon:x:2:2:daemon:/sbin:/sbin/nologin',
        'nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin',
        'sshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/sbin/nologin',
        'admin:x:1000:1000:admin:/home/admin:/bin/bash',
        'rocky:x:1001:1001::/home/rocky:/bin/bash',
      ),
      '/etc/shadow': lines(
        `root:${HASH.rockyRoot}::0:99999:7:::`,
        'bin:*:19469:0:99999:7:::',
        'daemon:*:19469:0:99999:7:::',
        'nobody:*:19469:0:99999:7:::',
        'sshd:!!:19850::::::',
        `admin:${HASH.rockyAdmin}:19850:0:90:7:14::`,
        'rocky:!!:19850:0:99999:7:::',
      ),
    },
  };
}

/** Fedora 40: yescrypt everywhere (login.defs and system-auth). */
export function fedora40(): GuestFixture {
  return {
    name: 'Fedora 40',
    expectedLabel: 'Fedora Linux 40 root',
    shadowMode: 0o000,
    shadowGid: 0,
    selinuxLabel: 'system_u:object_r:shadow_t:s0',
    passwords: { fedora: 'fedora-pw' },
    files: {
      '/usr/lib/os-release': lines(
        'NAME="Fedora Linux"',
        'VERSION="40 (Server Edition)"',
        'ID=fedora',
        'VERSION_ID=40',
        'VERSION_CODENAME=""',
        'PLATFORM_ID="platform:f40"',
        'PRETTY_NAME="Fedora Linux 40 (Server Edition)"',
        'VARIANT="Server Edition"',
        'VARIANT_ID=server',
      ),
      '/etc/os-release': { symlink: '../usr/lib/os-release' },
      '/etc/hostname': 'fedora\n',
      '/etc/selinux/config': 'SELINUX=permissive\nSELINUXTYPE=targeted\n',
      '/etc/login.defs': lines('ENCRYPT_METHOD YESCRYPT', 'YESCRYPT_COST_FACTOR 7'),
      '/etc/authselect/system-auth': lines(
        'password    sufficient                                   pam_unix.so yescrypt shadow nullok use_authtok',
      ),
      '/etc/pam.d/system-auth': { symlink: '/etc/authselect/system-auth' },
      '/etc/pam.d/passwd': lines('#%PAM-1.0', 'password   substack\tsystem-auth'),
      '/etc/passwd': lines(
        'root:x:0:0:Super User:/root:/bin/bash',
        'fedora:x:1000:1000::/home/fedora:/bin/bash',
      ),
      '/etc/shadow': lines('root:!:19850:0:99999:7:::', `fedora:${HASH.fedora}:19850:0:99999:7:::`),
    },
  };
}

/**
 * Alpine 3.19: musl (whose crypt has no yescrypt), busybox, no PAM, no login.defs; root has `*`
 * and an empty lastchg as in the minirootfs.
 */
export function alpine319(): GuestFixture {
  return {
    name: 'Alpine 3.19',
    expectedLabel: 'Alpine Linux 3.19.1 root',
    shadowMode: 0o640,
    shadowGid: 42,
    passwords: { alpine: 'alpine-pw', legacy: 'old-md5' },
    files: {
      '/etc/os-release': lines(
        'NAME="Alpine Linux"',
        'ID=alpine',
        'VERSION_ID=3.19.1',
        'PRETTY_NAME="Alpine Linux v3.19"',
        'HOME_URL="https://alpinelinux.org/"',
        'BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"',
      ),
      '/etc/hostname': 'localhost\n',
      '/bin/busybox': Buffer.from('\x7fELF busybox stand-in\n'),
      '/bin/sh': { symlink: '/bin/busybox' },
      '/lib/ld-musl-x86_64.so.1': Buffer.from('\x7fELF musl stand-in\n'),
      '/lib/libc.musl-x86_64.so.1': { symlink: 'ld-musl-x86_64.so.1' },
      '/etc/passwd': lines(
        'root:x:0:0:root:/root:/bin/ash',
        'bin:x:1:1:bin:/bin:/sbin/nologin',
        'daemon:x:2:2:daemon:/sbin:/sbin/nologin',
        'nobody:x:65534:65534:nobody:/:/sbin/nologin',
        'alpine:x:1000:1000:Linux User,,,:/home/alpine:/bin/ash',
        'kiosk:x:1001:1001::/home/kiosk:/bin/ash',
        'legacy:x:1002:1002::/home/legacy:/bin/ash',
      ),
      '/etc/shadow': lines(
        'root:*::0:::::',
        'bin:!::0:::::',
        'daemon:!::0:::::',
        'nobody:!::0:::::',
        `alpine:${HASH.alpine}:19800:0:99999:7:::`,
        'kiosk::19800:0:99999:7:::',
        `legacy:${HASH.oldMd5}:17000:0:99999:7:::`,
      ),
    },
  };
}
