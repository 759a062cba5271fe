/* gen_sys: syslog lines for the generator. */
#include "gen_int.h"

#include <string.h>

/* -------------------------------------------------------------- syslog */

/* "Nov 26 08:00:01 jump-01 sshd[4242]: ", with or without the pid */
#define HEAD(prog) "{stime} {@hosts} " prog "[{#60000+300}]: "
#define HEADN(prog) "{stime} {@hosts} " prog ": "
/* after a user name in sshd's messages */
#define FROM " from {ip} port {#64000+1024} ssh2"

static const struct gen_tpl sys_plants[] = {
	{5, 0, BIT(R_ACC001), NULL, NULL,
	 HEAD("sshd") "Accepted {@how} for root" FROM
		      "{?50|: RSA SHA256:{b64:43}|}"},
	{7, 0, BIT(R_ACC002), NULL, NULL,
	 "{*|{sudo:root}/sbin/auditctl -e 0"
	 "|" HEADN(
		 "kernel") "audit: type=1305 {audit}op=set audit_enabled=0"
			   " old=1 auid={#100+1000} ses={#900+1} res=1"
			   "|" HEADN(
				   "systemd") "{?50|Stopped Security Auditing "
					      "Service."
					      "|Stopping Security Auditing "
					      "Service...}"
					      "|" HEAD(
						      "auditd") "The audit "
								"daemon is "
								"exiting."
								"|{?50|{"
								"cloudtrail:"
								"StopLogging}|{"
								"cloudtrail:"
								"DeleteTrail}}"
								"|" HEADN(
									"Micros"
									"oft-"
									"Window"
									"s-"
									"Eventl"
									"og") "1102: The audit log was"
									      " cleared. Subject: Account Name: {@ops_users}}"},
	{7, 0, BIT(R_ACC003), NULL, NULL,
	 "{*|{sudo:root}{@shells}"
	 "|" HEAD("su") "pam_unix(su:session): session opened for user root"
			" by {@ops_users}(uid={#100+1000})"
			"|{sudo:root}{?50|/usr/sbin/usermod -aG {@admin_groups}"
			" temp.contractor|/usr/bin/gpasswd -a {@ops_users} "
			"{@admin_groups}}"
			"|{sudo:root}{@sensitive}}"},
	{5, 0, BIT(R_ACC004), NULL, NULL,
	 HEAD("sshd") "{*|message repeated {#20+5} times: [ Failed password"
		      " for root" FROM "]"
		      "|PAM {#5+5} more authentication failures; logname="
		      " uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"
		      "|error: maximum authentication attempts exceeded for"
		      " {?50|root|invalid user admin}" FROM " [preauth]"
		      "|Disconnecting: Too many authentication failures for"
		      " {?50|root|{@bad_users}} [preauth]}"},
	{1, 0, BIT(R_SEC002), NULL, NULL, HEAD("ledger") "loaded key {pem}"},
	{1, 0, BIT(R_SEC003), NULL, NULL,
	 HEAD("ledger") "upstream connect {cred_url} ok"},
	{1, 0, BIT(R_SEC004), NULL, NULL,
	 HEAD("report") "login attempt user=svc-report password={@passwords}"
			" result=ok"},
};

static const struct gen_tpl sys_decoys[] = {
	{1, 0, 0, NULL, NULL, HEAD("sshd") "Failed password for root" FROM},
	{1, 0, 0, NULL, NULL, "{sudo:root}/sbin/auditctl -l"},
	{1, 0, 0, NULL, NULL,
	 HEADN("kernel") "audit: type=1305 {audit}op=set audit_enabled=1"
			 " old=0 auid={#100+1000} res=1"},
	{1, 0, 0, NULL, NULL,
	 HEADN("kernel") "audit: initializing netlink socket (disabled)"},
	{1, 0, 0, NULL, NULL,
	 HEADN("systemd") "Started Security Auditing Service."},
	{1, 0, 0, NULL, NULL, "{cloudtrail:StartLogging}"},
	{1, 0, 0, NULL, NULL, "{sudo:postgres}/bin/bash"},
	{1, 0, 0, NULL, NULL, "{sudo:root}/usr/bin/cat /etc/passwd"},
	{1, 0, 0, NULL, NULL,
	 HEAD("usermod") "change shell of temp.contractor via usermod -s"
			 " /bin/bash temp.contractor"},
	{1, 0, 0, NULL, NULL,
	 HEAD("su") "pam_unix(su:session): session opened for user postgres"
		    " by {@ops_users}(uid={#100+1000})"},
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "message repeated {#3+2} times: [ Failed password for"
		      " root" FROM "]"},
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "{?50|PAM 1 more authentication failure|PAM {#3+2} more"
		      " authentication failures}; logname= uid=0 euid=0"
		      " tty=ssh ruser= rhost={ip}"},
	{1, 0, 0, NULL, NULL,
	 HEAD("report") "login attempt user=svc-report"
			" password={@pw_placeholders} result=ok"},
	{1, 0, 0, NULL, NULL,
	 HEAD("ledger") "upstream connect {@safe_urls} 200"},
};

static const struct gen_tpl sys_cleans[] = {
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "Accepted publickey for {@ops_users}" FROM},
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "Failed password for invalid user {@bad_users}" FROM},
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "Connection closed by {ip} port {#64000+1024} [preauth]"},
	{1, 0, 0, NULL, NULL,
	 HEAD("sshd") "pam_unix(sshd:session): session closed for user"
		      " {@ops_users}"},
	{2, 0, 0, NULL, NULL, "{sudo:root}{@cmds}"},
	{1, 0, 0, NULL, NULL,
	 HEAD("CRON") "(root) CMD (/usr/local/bin/rotate-ledger.sh)"},
	{1, 0, 0, NULL, NULL, HEADN("systemd") "{@units}"},
	{1, 0, 0, NULL, NULL,
	 HEADN("kernel") "[{#900000+100}.{#1000000.6}] e1000e: eth0 NIC Link"
			 " is Up 1000 Mbps Full Duplex"},
	{1, 0, 0, NULL, NULL,
	 HEADN("kernel") "audit: type=1100 {audit}pid={#60000+300} uid=0"
			 " auid={#100+1000} msg='op=PAM:authentication"
			 " acct=\"{@ops_users}\" exe=\"/usr/sbin/sshd\""
			 " terminal=ssh res=success'"},
	{1, 0, 0, NULL, NULL, "{cloudtrail:@events}"},
};

static const char *const hosts[] = {"core-bank-01", "core-bank-02", "pay-gw-01",
				    "jump-01",	    "ledger-db-01", "LabSZ"};
static const char *const ops_users[] = {"ops.kim", "j.smith", "a.weber",
					"l.chen",  "deploy",  "ansible"};
static const char *const bad_users[] = {"admin",     "test",  "oracle",
					"webmaster", "guest", "ubnt"};
static const char *const how[] = {"password", "publickey",
				  "keyboard-interactive/pam"};
static const char *const shells[] = {"/bin/bash", "/usr/bin/su", "/bin/sh",
				     "/usr/bin/zsh"};
static const char *const sensitive[] = {
	"/usr/bin/cat /etc/shadow", "/usr/bin/vi /etc/sudoers",
	"/usr/bin/less /etc/gshadow", "/usr/bin/cp /etc/shadow /tmp/s"};
static const char *const admin_groups[] = {"sudo", "wheel", "admin"};
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
static const char *const events[] = {"ConsoleLogin", "DescribeTrails",
				     "PutObject", "AssumeRole"};

static const struct gen_tpl_list sys_lists[] = {
	{GEN_LIST("hosts", hosts)},
	{GEN_LIST("ops_users", ops_users)},
	{GEN_LIST("bad_users", bad_users)},
	{GEN_LIST("how", how)},
	{GEN_LIST("shells", shells)},
	{GEN_LIST("sensitive", sensitive)},
	{GEN_LIST("admin_groups", admin_groups)},
	{GEN_LIST("cmds", cmds)},
	{GEN_LIST("units", units)},
	{GEN_LIST("events", events)},
	{NULL, NULL, 0},
};

static uint32_t t_stime(struct gen_tpl_ctx *c, const char *arg)
{
	(void)arg;
	gen_add_syslog_time(c->b, c->t);
	return 0;
}

static uint32_t t_ip(struct gen_tpl_ctx *c, const char *arg)
{
	static const char *const nets[] = {"10.", "172.16.", "203.0.113.",
					   "198.51.100.", "183.62.140."};
	const char *n = PICK(c->g, nets);
	struct ft_buf *b = c->b;

	(void)arg;
	add(b, n);
	if (n[0] == '1' && n[1] == '0' && n[2] == '.') {
		gen_addu(b, below(c->g, 256));
		addc(b, '.');
		gen_addu(b, below(c->g, 256));
		addc(b, '.');
	} else if (!strcmp(n, "172.16.")) {
		gen_addu(b, below(c->g, 256));
		addc(b, '.');
	}
	gen_addu(b, 1 + below(c->g, 254));
	return 0;
}

/* {sudo:AS}: "ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=AS ; COMMAND=" */
static uint32_t t_sudo(struct gen_tpl_ctx *c, const char *as)
{
	struct ft_buf *b = c->b;
	const char *u = gen_tpl_pick(c, "ops_users");

	gen_tpl_expand(c, HEAD("sudo"));
	add(b, u);
	add(b, " : TTY=pts/");
	gen_addu(b, below(c->g, 8));
	add(b, " ; PWD=/home/");
	add(b, u);
	add(b, " ; USER=");
	add(b, as);
	add(b, " ; COMMAND=");
	return 0;
}

static uint32_t t_audit(struct gen_tpl_ctx *c, const char *arg)
{
	struct ft_buf *b = c->b;

	(void)arg;
	add(b, "audit(");
	gen_addu(b, (uint64_t)c->t->epoch_s);
	addc(b, '.');
	gen_addu0(b, (uint64_t)c->t->ms, 3);
	addc(b, ':');
	gen_addu(b, 100 + below(c->g, 90000));
	add(b, "): ");
	return 0;
}

/* {cloudtrail:EVENT}, {cloudtrail:@list}: a forwarded CloudTrail event */
static uint32_t t_cloudtrail(struct gen_tpl_ctx *c, const char *event)
{
	struct ft_buf *b = c->b;

	if (*event == '@')
		event = gen_tpl_pick(c, event + 1);
	gen_tpl_expand(c, HEAD("cloudtrail-fwd"));
	add(b, "{\"eventVersion\":\"1.08\",\"eventTime\":\"");
	gen_add_iso(b, c->t);
	add(b, "\",\"eventSource\":\"cloudtrail.amazonaws.com\","
	       "\"eventName\":\"");
	add(b, event);
	add(b, "\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"");
	t_ip(c, "");
	add(b, "\",\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:"
	       "iam::");
	gen_addu0(b, 100000000 + below(c->g, 900000000), 12);
	add(b, ":user/");
	add(b, gen_tpl_pick(c, "ops_users"));
	add(b, "\"}}");
	return 0;
}

static const struct gen_tpl_fn sys_fns[] = {
	{"stime", t_stime, NULL},
	{"ip", t_ip, NULL},
	{"sudo", t_sudo, NULL},
	{"audit", t_audit, NULL},
	{"cloudtrail", t_cloudtrail, NULL},
	{NULL, NULL, NULL},
};

uint32_t gen_syslog(struct ft_gen *g, enum mode mode, const struct when *t)
{
	struct gen_tpl_ctx c = {.g = g,
				.t = t,
				.b = &g->val,
				.fns = sys_fns,
				.lists = sys_lists};
	const struct gen_tpl *row;

	if (mode == M_PLANT)
		row = gen_tpl_pick_row(g, sys_plants,
				       FT_ARRAY_SIZE(sys_plants));
	else if (mode == M_DECOY)
		row = gen_tpl_pick_row(g, sys_decoys,
				       FT_ARRAY_SIZE(sys_decoys));
	else
		row = gen_tpl_pick_row(g, sys_cleans,
				       FT_ARRAY_SIZE(sys_cleans));
	return row->rules | gen_tpl_expand(&c, row->text);
}
