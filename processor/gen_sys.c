/* gen_sys: syslog lines for the generator. */
#include "gen_int.h"

#include <string.h>

/* -------------------------------------------------------------- syslog */

static const char *const hosts[] = {"core-bank-01", "core-bank-02", "pay-gw-01",
				    "jump-01",	    "ledger-db-01", "LabSZ"};
static const char *const ops_users[] = {"ops.kim", "j.smith", "a.weber",
					"l.chen",  "deploy",  "ansible"};
static const char *const bad_users[] = {"admin",     "test",  "oracle",
					"webmaster", "guest", "ubnt"};

static void sys_head(struct ft_gen *g, const struct when *t, const char *prog,
		     bool pid)
{
	struct ft_buf *b = &g->val;

	add_syslog_time(b, t);
	addc(b, ' ');
	add(b, PICK(g, hosts));
	addc(b, ' ');
	add(b, prog);
	if (pid) {
		addc(b, '[');
		addu(b, 300 + below(g, 60000));
		addc(b, ']');
	}
	add(b, ": ");
}

static void add_ip(struct ft_gen *g, struct ft_buf *b)
{
	static const char *const nets[] = {"10.", "172.16.", "203.0.113.",
					   "198.51.100.", "183.62.140."};
	const char *n = PICK(g, nets);

	add(b, n);
	if (n[0] == '1' && n[1] == '0' && n[2] == '.') {
		addu(b, below(g, 256));
		addc(b, '.');
		addu(b, below(g, 256));
		addc(b, '.');
	} else if (!strcmp(n, "172.16.")) {
		addu(b, below(g, 256));
		addc(b, '.');
	}
	addu(b, 1 + below(g, 254));
}

static void add_from(struct ft_gen *g, const char *user)
{
	struct ft_buf *b = &g->val;

	add(b, user);
	add(b, " from ");
	add_ip(g, b);
	add(b, " port ");
	addu(b, 1024 + below(g, 64000));
	add(b, " ssh2");
}

/* "ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=" */
static void sudo_head(struct ft_gen *g, const struct when *t, const char *as)
{
	struct ft_buf *b = &g->val;
	const char *u = PICK(g, ops_users);

	sys_head(g, t, "sudo", true);
	add(b, u);
	add(b, " : TTY=pts/");
	addu(b, below(g, 8));
	add(b, " ; PWD=/home/");
	add(b, u);
	add(b, " ; USER=");
	add(b, as);
	add(b, " ; COMMAND=");
}

static void audit_stamp(struct ft_gen *g, const struct when *t)
{
	struct ft_buf *b = &g->val;

	add(b, "audit(");
	addu(b, (uint64_t)t->epoch_s);
	addc(b, '.');
	addu0(b, (uint64_t)t->ms, 3);
	addc(b, ':');
	addu(b, 100 + below(g, 90000));
	add(b, "): ");
}

static void cloudtrail(struct ft_gen *g, const struct when *t,
		       const char *event)
{
	struct ft_buf *b = &g->val;

	sys_head(g, t, "cloudtrail-fwd", true);
	add(b, "{\"eventVersion\":\"1.08\",\"eventTime\":\"");
	add_iso(b, t);
	add(b, "\",\"eventSource\":\"cloudtrail.amazonaws.com\","
	       "\"eventName\":\"");
	add(b, event);
	add(b, "\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"");
	add_ip(g, b);
	add(b, "\",\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:"
	       "iam::");
	addu0(b, 100000000 + below(g, 900000000), 12);
	add(b, ":user/");
	add(b, PICK(g, ops_users));
	add(b, "\"}}");
}

enum sys_variant {
	SV_ACC001,
	SV_ACC002,
	SV_ACC003,
	SV_ACC004,
	SV_SEC002,
	SV_SEC003,
	SV_SEC004,
};

static const struct menu sys_plants[] = {
	{SV_ACC001, 5}, {SV_ACC002, 7}, {SV_ACC003, 7}, {SV_ACC004, 5},
	{SV_SEC002, 1}, {SV_SEC003, 1}, {SV_SEC004, 1},
};

static uint32_t sys_plant(struct ft_gen *g, const struct when *t)
{
	static const char *const shells[] = {"/bin/bash", "/usr/bin/su",
					     "/bin/sh", "/usr/bin/zsh"};
	static const char *const sensitive[] = {
		"/usr/bin/cat /etc/shadow", "/usr/bin/vi /etc/sudoers",
		"/usr/bin/less /etc/gshadow", "/usr/bin/cp /etc/shadow /tmp/s"};
	static const char *const admin_groups[] = {"sudo", "wheel", "admin"};
	static const char *const how[] = {"password", "publickey",
					  "keyboard-interactive/pam"};
	struct ft_buf *b = &g->val;
	char s[160];
	struct frag u = {.n = 0};

	switch (pick_menu(g, sys_plants, FT_ARRAY_SIZE(sys_plants))) {
	case SV_ACC001:
		sys_head(g, t, "sshd", true);
		add(b, "Accepted ");
		add(b, PICK(g, how));
		add(b, " for ");
		add_from(g, "root");
		if (chance(g, 50)) {
			add(b, ": RSA SHA256:");
			TOKEN(g, s, 43, b64, letters);
			add(b, s);
		}
		return BIT(R_ACC001);
	case SV_ACC002:
		switch (below(g, 6)) {
		case 0:
			sudo_head(g, t, "root");
			add(b, "/sbin/auditctl -e 0");
			break;
		case 1:
			sys_head(g, t, "kernel", false);
			add(b, "audit: type=1305 ");
			audit_stamp(g, t);
			add(b, "op=set audit_enabled=0 old=1 auid=");
			addu(b, 1000 + below(g, 100));
			add(b, " ses=");
			addu(b, 1 + below(g, 900));
			add(b, " res=1");
			break;
		case 2:
			sys_head(g, t, "systemd", false);
			add(b, chance(g, 50) ? "Stopped Security Auditing "
					       "Service."
					     : "Stopping Security Auditing "
					       "Service...");
			break;
		case 3:
			sys_head(g, t, "auditd", true);
			add(b, "The audit daemon is exiting.");
			break;
		case 4:
			cloudtrail(g, t,
				   chance(g, 50) ? "StopLogging"
						 : "DeleteTrail");
			break;
		default:
			sys_head(g, t, "Microsoft-Windows-Eventlog", false);
			add(b, "1102: The audit log was cleared. Subject: "
			       "Account Name: ");
			add(b, PICK(g, ops_users));
			break;
		}
		return BIT(R_ACC002);
	case SV_ACC003:
		switch (below(g, 4)) {
		case 0:
			sudo_head(g, t, "root");
			add(b, PICK(g, shells));
			break;
		case 1:
			sys_head(g, t, "su", true);
			add(b, "pam_unix(su:session): session opened for user "
			       "root by ");
			add(b, PICK(g, ops_users));
			add(b, "(uid=");
			addu(b, 1000 + below(g, 100));
			addc(b, ')');
			break;
		case 2:
			sudo_head(g, t, "root");
			if (chance(g, 50)) {
				add(b, "/usr/sbin/usermod -aG ");
				add(b, PICK(g, admin_groups));
				addc(b, ' ');
			} else {
				add(b, "/usr/bin/gpasswd -a ");
				add(b, PICK(g, ops_users));
				addc(b, ' ');
				add(b, PICK(g, admin_groups));
				break;
			}
			add(b, "temp.contractor");
			break;
		default:
			sudo_head(g, t, "root");
			add(b, PICK(g, sensitive));
			break;
		}
		return BIT(R_ACC003);
	case SV_ACC004:
		sys_head(g, t, "sshd", true);
		switch (below(g, 4)) {
		case 0:
			add(b, "message repeated ");
			addu(b, 5 + below(g, 20));
			add(b, " times: [ Failed password for ");
			add_from(g, "root");
			addc(b, ']');
			break;
		case 1:
			add(b, "PAM ");
			addu(b, 5 + below(g, 5));
			add(b, " more authentication failures; logname= uid=0 "
			       "euid=0 tty=ssh ruser= rhost=");
			add_ip(g, b);
			add(b, "  user=root");
			break;
		case 2:
			add(b, "error: maximum authentication attempts "
			       "exceeded for ");
			add_from(g,
				 chance(g, 50) ? "root" : "invalid user admin");
			add(b, " [preauth]");
			break;
		default:
			add(b, "Disconnecting: Too many authentication "
			       "failures for ");
			add(b, chance(g, 50) ? "root" : PICK(g, bad_users));
			add(b, " [preauth]");
			break;
		}
		return BIT(R_ACC004);
	case SV_SEC002:
		sys_head(g, t, "ledger", true);
		add(b, "loaded key ");
		make_pem_line(g, s);
		add(b, s);
		return BIT(R_SEC002);
	case SV_SEC003:
		sys_head(g, t, "ledger", true);
		add(b, "upstream connect ");
		u.s[0] = '\0';
		make_cred_url(g, &u);
		add(b, u.s);
		add(b, " ok");
		return BIT(R_SEC003);
	default:
		sys_head(g, t, "report", true);
		add(b, "login attempt user=svc-report password=");
		add(b, PICK(g, passwords));
		add(b, " result=ok");
		return BIT(R_SEC004);
	}
}

static void sys_decoy(struct ft_gen *g, const struct when *t)
{
	struct ft_buf *b = &g->val;

	switch (below(g, 14)) {
	case 0:
		sys_head(g, t, "sshd", true);
		add(b, "Failed password for ");
		add_from(g, "root");
		break;
	case 1:
		sudo_head(g, t, "root");
		add(b, "/sbin/auditctl -l");
		break;
	case 2:
		sys_head(g, t, "kernel", false);
		add(b, "audit: type=1305 ");
		audit_stamp(g, t);
		add(b, "op=set audit_enabled=1 old=0 auid=");
		addu(b, 1000 + below(g, 100));
		add(b, " res=1");
		break;
	case 3:
		sys_head(g, t, "kernel", false);
		add(b, "audit: initializing netlink socket (disabled)");
		break;
	case 4:
		sys_head(g, t, "systemd", false);
		add(b, "Started Security Auditing Service.");
		break;
	case 5:
		cloudtrail(g, t, "StartLogging");
		break;
	case 6:
		sudo_head(g, t, "postgres");
		add(b, "/bin/bash");
		break;
	case 7:
		sudo_head(g, t, "root");
		add(b, "/usr/bin/cat /etc/passwd");
		break;
	case 8:
		sys_head(g, t, "usermod", true);
		add(b, "change shell of temp.contractor via usermod -s "
		       "/bin/bash temp.contractor");
		break;
	case 9:
		sys_head(g, t, "su", true);
		add(b, "pam_unix(su:session): session opened for user postgres "
		       "by ");
		add(b, PICK(g, ops_users));
		add(b, "(uid=");
		addu(b, 1000 + below(g, 100));
		addc(b, ')');
		break;
	case 10:
		sys_head(g, t, "sshd", true);
		add(b, "message repeated ");
		addu(b, 2 + below(g, 3));
		add(b, " times: [ Failed password for ");
		add_from(g, "root");
		addc(b, ']');
		break;
	case 11:
		sys_head(g, t, "sshd", true);
		if (chance(g, 50)) {
			add(b, "PAM 1 more authentication failure; logname= "
			       "uid=0 euid=0 tty=ssh ruser= rhost=");
		} else {
			add(b, "PAM ");
			addu(b, 2 + below(g, 3));
			add(b, " more authentication failures; logname= uid=0 "
			       "euid=0 tty=ssh ruser= rhost=");
		}
		add_ip(g, b);
		break;
	case 12:
		sys_head(g, t, "report", true);
		add(b, "login attempt user=svc-report password=");
		add(b, PICK(g, pw_placeholders));
		add(b, " result=ok");
		break;
	default:
		sys_head(g, t, "ledger", true);
		add(b, "upstream connect ");
		add(b, PICK(g, safe_urls));
		add(b, " 200");
		break;
	}
}

static void sys_clean(struct ft_gen *g, const struct when *t)
{
	static const char *const cmds[] = {
		"/usr/bin/systemctl restart ledger",
		"/usr/bin/journalctl -u ledger --since today",
		"/usr/bin/apt-get update",
		"/usr/bin/tail -n 100 /var/log/syslog",
		"/usr/bin/docker ps",
		"/usr/bin/ls -l /etc/ssh",
	};
	static const char *const units[] = {
		"Started Daily apt download activities.",
		"Starting Cleanup of Temporary Directories...",
		"Finished Rotate log files.",
		"Started Session c1 of user deploy.",
		"Reloading ledger.service...",
	};
	struct ft_buf *b = &g->val;

	switch (below(g, 11)) {
	case 0:
		sys_head(g, t, "sshd", true);
		add(b, "Accepted publickey for ");
		add_from(g, PICK(g, ops_users));
		break;
	case 1:
		sys_head(g, t, "sshd", true);
		add(b, "Failed password for invalid user ");
		add_from(g, PICK(g, bad_users));
		break;
	case 2:
		sys_head(g, t, "sshd", true);
		add(b, "Connection closed by ");
		add_ip(g, b);
		add(b, " port ");
		addu(b, 1024 + below(g, 64000));
		add(b, " [preauth]");
		break;
	case 3:
		sys_head(g, t, "sshd", true);
		add(b, "pam_unix(sshd:session): session closed for user ");
		add(b, PICK(g, ops_users));
		break;
	case 4:
	case 5:
		sudo_head(g, t, "root");
		add(b, PICK(g, cmds));
		break;
	case 6:
		sys_head(g, t, "CRON", true);
		add(b, "(root) CMD (/usr/local/bin/rotate-ledger.sh)");
		break;
	case 7:
		sys_head(g, t, "systemd", false);
		add(b, PICK(g, units));
		break;
	case 8:
		sys_head(g, t, "kernel", false);
		addc(b, '[');
		addu(b, 100 + below(g, 900000));
		addc(b, '.');
		addu0(b, below(g, 1000000), 6);
		add(b, "] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex");
		break;
	case 9:
		sys_head(g, t, "kernel", false);
		add(b, "audit: type=1100 ");
		audit_stamp(g, t);
		add(b, "pid=");
		addu(b, 300 + below(g, 60000));
		add(b, " uid=0 auid=");
		addu(b, 1000 + below(g, 100));
		add(b, " msg='op=PAM:authentication acct=\"");
		add(b, PICK(g, ops_users));
		add(b, "\" exe=\"/usr/sbin/sshd\" terminal=ssh res=success'");
		break;
	default: {
		static const char *const ev[] = {"ConsoleLogin",
						 "DescribeTrails", "PutObject",
						 "AssumeRole"};

		cloudtrail(g, t, PICK(g, ev));
		break;
	}
	}
}

uint32_t gen_syslog(struct ft_gen *g, enum mode mode, const struct when *t)
{
	if (mode == M_PLANT)
		return sys_plant(g, t);
	if (mode == M_DECOY)
		sys_decoy(g, t);
	else
		sys_clean(g, t);
	return 0;
}
