package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coordkit/coord"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][2]string
	}{
		{"equals", "tickTime=2000\n", [][2]string{{"tickTime", "2000"}}},
		{"spaces around equals", "  dataDir = /var/zk  \n", [][2]string{{"dataDir", "/var/zk  "}}},
		{"colon", "clientPort: 2181", [][2]string{{"clientPort", "2181"}}},
		{"whitespace separator", "clientPort 2181", [][2]string{{"clientPort", "2181"}}},
		{"comments and blanks", "# c\n! c\n\n   \na=1", [][2]string{{"a", "1"}}},
		{"server line keeps colons", "server.1=127.0.0.1:2888:3888;2181", [][2]string{{"server.1", "127.0.0.1:2888:3888;2181"}}},
		{"first separator wins", "a:=b", [][2]string{{"a", "=b"}}},
		{"continuation", "a=one,\\\n    two\nb=2", [][2]string{{"a", "one,two"}, {"b", "2"}}},
		{"escaped backslash is no continuation", "a=x\\\\\nb=2", [][2]string{{"a", `x\`}, {"b", "2"}}},
		{"escaped separator in key", `a\=b=c`, [][2]string{{"a=b", "c"}}},
		{"empty value", "a=", [][2]string{{"a", ""}}},
		{"key only", "a", [][2]string{{"a", ""}}},
		{"unicode escape", `a=\u0041`, [][2]string{{"a", "A"}}},
		{"crlf", "a=1\r\nb=2\r\n", [][2]string{{"a", "1"}, {"b", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := parseProperties(strings.NewReader(tt.in), "zoo.cfg")
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]string
			for _, p := range ps {
				got = append(got, [2]string{p.key, p.value})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseServerLine(t *testing.T) {
	tests := []struct {
		name    string
		id, v   string
		want    zooServer
		wantErr string
	}{
		{name: "basic", id: "1", v: "zk1:2888:3888",
			want: zooServer{ID: "1", Host: "zk1", PeerPort: 2888, ElectionPort: 3888}},
		{name: "participant", id: "2", v: "10.0.0.2:2888:3888:participant",
			want: zooServer{ID: "2", Host: "10.0.0.2", PeerPort: 2888, ElectionPort: 3888}},
		{name: "observer", id: "3", v: "zk3:2888:3888:observer",
			want: zooServer{ID: "3", Host: "zk3", PeerPort: 2888, ElectionPort: 3888, Observer: true}},
		{name: "client port", id: "1", v: "zk1:2888:3888;2181",
			want: zooServer{ID: "1", Host: "zk1", PeerPort: 2888, ElectionPort: 3888, ClientAddr: ":2181"}},
		{name: "client address", id: "1", v: "zk1:2888:3888:participant;127.0.0.1:2181",
			want: zooServer{ID: "1", Host: "zk1", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "127.0.0.1:2181"}},
		{name: "ipv6", id: "1", v: "[::1]:2888:3888;[::1]:2181",
			want: zooServer{ID: "1", Host: "::1", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "[::1]:2181"}},
		{name: "multi address takes first", id: "1", v: "a:2888:3888|b:2889:3889",
			want: zooServer{ID: "1", Host: "a", PeerPort: 2888, ElectionPort: 3888}},
		{name: "leading zero id", id: "01", v: "a:1:2",
			want: zooServer{ID: "1", Host: "a", PeerPort: 1, ElectionPort: 2}},
		{name: "no election port", id: "1", v: "zk1:2888", wantErr: "host:peerPort:electionPort"},
		{name: "no ports", id: "1", v: "zk1", wantErr: "host:peerPort:electionPort"},
		{name: "bad role", id: "1", v: "zk1:1:2:leader", wantErr: "role"},
		{name: "bad port", id: "1", v: "zk1:x:2", wantErr: "peer port"},
		{name: "bad id", id: "x", v: "zk1:1:2", wantErr: "server id"},
		{name: "bad client port", id: "1", v: "zk1:1:2;x", wantErr: "client port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServerLine(tt.id, tt.v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestZooConfig maps whole zoo.cfg files (with a myid file) to coord.Config.
func TestZooConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		myid    string   // written to dataDir/myid when set
		props   []string // -D key=value
		check   func(t *testing.T, c daemonConfig, zc *zooConfig)
		wantErr string
	}{
		{
			name: "standalone sample",
			cfg:  "tickTime=2000\ndataDir=$DIR\nclientPort=2181\ninitLimit=10\nsyncLimit=5\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				want := daemonConfig{Config: coord.Config{NodeID: "1", TickTime: 2 * time.Second, DataDir: zc.DataDir,
					ElectionTimeout: time.Second}, ClientAddr: ":2181", MaxClientCnxns: 60}
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got %+v\nwant %+v", c, want)
				}
				if len(zc.Warnings) != 0 {
					t.Fatalf("warnings %q", zc.Warnings)
				}
			},
		},
		{
			name: "metrics provider, admin server, enforceQuota",
			cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=2181\n" +
				"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n" +
				"metricsProvider.httpPort=7001\nadmin.enableServer=true\nadmin.commandURL=/cmds\nzookeeper.enforceQuota=true\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.MetricsAddr != "0.0.0.0:7001" || c.AdminAddr != "127.0.0.1:8080" || c.AdminCommandURL != "/cmds" || !c.EnforceQuota {
					t.Fatalf("got %+v", c)
				}
				if len(zc.Warnings)+len(zc.Infos) != 0 {
					t.Fatalf("warnings %q infos %q", zc.Warnings, zc.Infos)
				}
			},
		},
		{
			name: "admin and metrics off unless configured",
			cfg:  "tickTime=2000\ndataDir=$DIR\nclientPort=2181\nadmin.serverPort=9090\nadmin.enableServer=false\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.MetricsAddr != "" || c.AdminAddr != "" || c.EnforceQuota {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name:  "admin address and port, enforceQuota as -D",
			cfg:   "tickTime=2000\ndataDir=$DIR\nclientPort=2181\nadmin.serverAddress=0.0.0.0\nadmin.serverPort=9090\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n",
			props: []string{"zookeeper.enforceQuota=true"},
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.AdminAddr != "0.0.0.0:9090" || c.MetricsAddr != "127.0.0.1:0" || !c.EnforceQuota {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name:    "another metrics provider",
			cfg:     "tickTime=2000\ndataDir=$DIR\nclientPort=2181\nmetricsProvider.className=com.example.Other\n",
			wantErr: "coordd serves only",
		},
		{
			name: "gossip keys",
			cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=2181\ncoord.nodeId=a\ncoord.clusterAddress=10.0.0.1:7000\n" +
				"coord.advertiseAddress=node-a:7000\ncoord.gossipAddress=0.0.0.0:7946\ncoord.join=10.0.0.2:7946, 10.0.0.3:7946\n" +
				"coord.bootstrapExpect=3\ncoord.voters=5\ncoord.clusterName=prod\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				g := c.Gossip
				if c.NodeID != "a" || c.BindAddr != "10.0.0.1:7000" || g.Addr != "0.0.0.0:7946" || g.AdvertiseAddr != "node-a:7000" ||
					!reflect.DeepEqual(g.Join, []string{"10.0.0.2:7946", "10.0.0.3:7946"}) || g.BootstrapExpect != 3 || g.Voters != 5 ||
					g.ClusterName != "prod" || c.Peers != nil {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name:    "gossip without a cluster address",
			cfg:     "tickTime=2000\ndataDir=$DIR\nclientPort=2181\ncoord.gossipAddress=127.0.0.1:7946\ncoord.bootstrapExpect=3\n",
			wantErr: "coord.clusterAddress",
		},
		{
			name:    "gossip with neither bootstrapExpect nor join",
			cfg:     "tickTime=2000\ndataDir=$DIR\nclientPort=2181\ncoord.gossipAddress=127.0.0.1:7946\ncoord.clusterAddress=127.0.0.1:7000\n",
			wantErr: "coord.bootstrapExpect",
		},
		{
			name: "client address and limits",
			cfg: "tickTime=200\ndataDir=$DIR\nclientPort=2181\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n" +
				"minSessionTimeout=1000\nmaxSessionTimeout=-1\n4lw.commands.whitelist=ruok, srvr ,mntr\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ClientAddr != "127.0.0.1:2181" || c.MaxClientCnxns != -1 || c.MinSessionTimeout != time.Second ||
					c.MaxSessionTimeout != 0 || !reflect.DeepEqual(c.FourLetterWords, []string{"ruok", "srvr", "mntr"}) {
					t.Fatalf("got %+v", c)
				}
				if c.ElectionTimeout != time.Second { // 5 (default syncLimit) × 200ms
					t.Fatalf("election timeout %v", c.ElectionTimeout)
				}
			},
		},
		{
			name: "system properties as keys, with and without zookeeper.",
			cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=2181\n" +
				"zookeeper.extendedTypesEnabled=true\nemulate353TTLNodes=true\n" +
				"znode.container.checkIntervalMs=100\njute.maxbuffer=0x200000\n" +
				"DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n" +
				"zookeeper.snapCount=5000\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ContainerCheckInterval != 100*time.Millisecond || c.MaxDataSize != 2<<20 ||
					c.SuperDigest != "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" || c.SnapshotThreshold != 5000 {
					t.Fatalf("got %+v", c)
				}
				if len(zc.Warnings) != 0 {
					t.Fatalf("warnings %q", zc.Warnings)
				}
			},
		},
		{
			name:  "-D properties override the file",
			cfg:   "tickTime=2000\ndataDir=$DIR\nclientPort=2181\njute.maxbuffer=1000\n",
			props: []string{"jute.maxbuffer=2000", "zookeeper.DigestAuthenticationProvider.superDigest=super:abc="},
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.MaxDataSize != 2000 || c.SuperDigest != "super:abc=" {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "three servers, go-zookeeper harness file",
			cfg: "admin.enableServer=false\ndataDir=$DIR\ntickTime=500\ninitLimit=10\nsyncLimit=5\nclientPort=20000\n" +
				"reconfigEnabled=true\n4lw.commands.whitelist=*\nstandaloneEnabled=false\n" +
				"server.1=127.0.0.1:20001:20002\nserver.2=127.0.0.1:20004:20005\nserver.3=127.0.0.1:20007:20008\n",
			myid: "2\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				wantPeers := []coord.Peer{{ID: "1", Addr: "127.0.0.1:20001"}, {ID: "2", Addr: "127.0.0.1:20004"}, {ID: "3", Addr: "127.0.0.1:20007"}}
				if c.NodeID != "2" || c.BindAddr != "127.0.0.1:20004" || !reflect.DeepEqual(c.Peers, wantPeers) {
					t.Fatalf("got id %q bind %q peers %v", c.NodeID, c.BindAddr, c.Peers)
				}
				if c.ClientAddr != ":20000" || c.TickTime != 500*time.Millisecond || c.ElectionTimeout != time.Second {
					t.Fatalf("got %+v", c)
				}
				if !reflect.DeepEqual(c.FourLetterWords, []string{"*"}) {
					t.Fatalf("4lw %v", c.FourLetterWords)
				}
				if len(zc.Warnings) != 1 || !strings.Contains(zc.Warnings[0], "reconfig") {
					t.Fatalf("warnings %q", zc.Warnings)
				}
			},
		},
		{
			name: "short ticks give a short election timeout",
			cfg:  "tickTime=10\nsyncLimit=2\ndataDir=$DIR\nclientPort=1\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ElectionTimeout != 50*time.Millisecond {
					t.Fatalf("election timeout %v", c.ElectionTimeout)
				}
			},
		},
		{
			name: "explicit election timeout",
			cfg:  "tickTime=2000\ndataDir=$DIR\nclientPort=1\ncoord.electionTimeoutMs=3000\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ElectionTimeout != 3*time.Second {
					t.Fatalf("election timeout %v", c.ElectionTimeout)
				}
			},
		},
		{
			name: "client address from the server line",
			cfg: "tickTime=2000\ndataDir=$DIR\n" +
				"server.1=127.0.0.1:1:2;127.0.0.1:3001\nserver.2=127.0.0.1:4:5;127.0.0.1:3002\nserver.3=127.0.0.1:7:8;127.0.0.1:3003\n",
			myid: "3",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.ClientAddr != "127.0.0.1:3003" || c.BindAddr != "127.0.0.1:7" {
					t.Fatalf("got client %q bind %q", c.ClientAddr, c.BindAddr)
				}
			},
		},
		{
			name: "observer and quorumListenOnAllIPs",
			cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=1\nquorumListenOnAllIPs=true\n" +
				"server.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888:observer\n",
			myid: "1",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.BindAddr != ":2888" || len(c.Peers) != 3 || c.Peers[0].Addr != "h1:2888" {
					t.Fatalf("got bind %q peers %v", c.BindAddr, c.Peers)
				}
				if c.Peers[0].Observer || c.Peers[1].Observer || !c.Peers[2].Observer {
					t.Fatalf("observers: %+v", c.Peers)
				}
				if len(zc.Warnings) != 0 {
					t.Fatalf("warnings %q", zc.Warnings)
				}
			},
		},
		{
			name: "peerType disagrees with the server list",
			cfg: "tickTime=2000\ndataDir=$DIR\nclientPort=1\npeerType=observer\n" +
				"server.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888\n",
			myid: "1",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.Peers[0].Observer {
					t.Fatalf("the server list says participant: %+v", c.Peers[0])
				}
				if len(zc.Warnings) != 1 || !strings.Contains(zc.Warnings[0], "peerType") {
					t.Fatalf("warnings %q", zc.Warnings)
				}
			},
		},
		{
			name: "one server line is standalone",
			cfg:  "tickTime=2000\ndataDir=$DIR\nclientPort=1\nserver.7=h:1:2\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				if c.NodeID != "7" || c.Peers != nil || c.BindAddr != "" {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "accepted, ignored and unknown keys",
			cfg: "tickTime=2000\ndataDir=$DIR\ndataLogDir=/elsewhere\nclientPort=1\nautopurge.snapRetainCount=3\n" +
				"autopurge.purgeInterval=1\nskipACL=yes\nbogus.key=1\nssl.keyStore.location=/k\n",
			check: func(t *testing.T, c daemonConfig, zc *zooConfig) {
				joined := strings.Join(zc.Warnings, "\n")
				for _, w := range []string{"unknown key bogus.key", "ssl.keyStore.location", "skipACL=yes"} {
					if !strings.Contains(joined, w) {
						t.Errorf("warnings lack %q: %q", w, zc.Warnings)
					}
				}
				infos := strings.Join(zc.Infos, "\n")
				for _, w := range []string{"autopurge.snapRetainCount", "autopurge.purgeInterval", "dataLogDir=/elsewhere"} {
					if !strings.Contains(infos, w) {
						t.Errorf("infos lack %q: %q", w, zc.Infos)
					}
				}
			},
		},
		{name: "no tickTime", cfg: "dataDir=$DIR\nclientPort=1\n", wantErr: "tickTime is not set"},
		{name: "no dataDir", cfg: "tickTime=1\nclientPort=1\n", wantErr: "dataDir is not set"},
		{name: "no clientPort", cfg: "tickTime=1\ndataDir=$DIR\n", wantErr: "clientPort is not set"},
		{name: "address without port", cfg: "tickTime=1\ndataDir=$DIR\nclientPortAddress=127.0.0.1\n", wantErr: "clientPort is not set"},
		{name: "bad number", cfg: "tickTime=2s\n", wantErr: "tickTime"},
		{name: "bad port", cfg: "clientPort=70000\n", wantErr: "out of range"},
		{name: "bad jute.maxbuffer", cfg: "jute.maxbuffer=-1\n", wantErr: "jute.maxbuffer"},
		{name: "bad peerType", cfg: "peerType=leader\n", wantErr: "peerType"},
		{
			name:    "min above max session timeout",
			cfg:     "tickTime=1000\ndataDir=$DIR\nclientPort=1\nminSessionTimeout=30000\nmaxSessionTimeout=10000\n",
			wantErr: "minSessionTimeout",
		},
		{
			name:    "ensemble without myid",
			cfg:     "tickTime=1\ndataDir=$DIR\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\n",
			wantErr: "myid is missing",
		},
		{
			name:    "myid not listed",
			cfg:     "tickTime=1\ndataDir=$DIR\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\n",
			myid:    "9",
			wantErr: "myid 9 has no server.9 line",
		},
		{
			name:    "myid not a number",
			cfg:     "tickTime=1\ndataDir=$DIR\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\n",
			myid:    "one",
			wantErr: "not a number",
		},
		{
			name: "conflicting client addresses",
			cfg: "tickTime=1\ndataDir=$DIR\nclientPort=1\n" +
				"server.1=a:1:2;127.0.0.1:5\nserver.2=b:1:2;127.0.0.1:6\n",
			myid:    "1",
			wantErr: "differs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.myid != "" {
				if err := os.WriteFile(filepath.Join(data, "myid"), []byte(tt.myid), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "zoo.cfg")
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(tt.cfg, "$DIR", data)), 0o644); err != nil {
				t.Fatal(err)
			}
			var props []property
			for _, p := range tt.props {
				k, v, _ := strings.Cut(p, "=")
				props = append(props, property{key: k, value: v, where: "-D"})
			}
			zc, err := loadZooConfig(path, props)
			var c daemonConfig
			if err == nil {
				c, err = zc.coordConfig()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, zc)
		})
	}
}

func TestDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	dyn := "server.1=127.0.0.1:1:2:participant;127.0.0.1:11\nserver.2=127.0.0.1:3:4:participant;127.0.0.1:12\nversion=100000000\n"
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg.dynamic.100000000"), []byte(dyn), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "tickTime=100\ndataDir=" + dir + "\ndynamicConfigFile=zoo.cfg.dynamic.100000000\n"
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	zc, err := loadZooConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := zc.coordConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "2" || c.ClientAddr != "127.0.0.1:12" || len(c.Peers) != 2 || c.BindAddr != "127.0.0.1:3" {
		t.Fatalf("got %+v", c)
	}
}

func TestOptionsConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte("tickTime=2000\ndataDir="+dir+"\nclientPort=2181\nsyncLimit=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c daemonConfig)
		wantErr string
	}{
		{
			name: "no arguments",
			check: func(t *testing.T, c daemonConfig) {
				if c.ClientAddr != "127.0.0.1:2181" || c.DataDir != "coord-data" || c.NodeID != "1" || c.TickTime != 2*time.Second || c.Peers != nil {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "gossip and monitoring flags",
			args: []string{"-id", "g1", "-cluster-addr", "127.0.0.1:7001", "-gossip-addr", "127.0.0.1:7946", "-join", "127.0.0.1:7947",
				"-voters", "3", "-cluster-name", "c", "-advertise-addr", "h:7001", "-metrics-addr", "127.0.0.1:9100", "-admin-addr", "127.0.0.1:8081"},
			check: func(t *testing.T, c daemonConfig) {
				if c.NodeID != "g1" || c.BindAddr != "127.0.0.1:7001" || c.Gossip.Addr != "127.0.0.1:7946" ||
					!reflect.DeepEqual(c.Gossip.Join, []string{"127.0.0.1:7947"}) || c.Gossip.Voters != 3 || c.Gossip.ClusterName != "c" ||
					c.Gossip.AdvertiseAddr != "h:7001" || c.MetricsAddr != "127.0.0.1:9100" || c.AdminAddr != "127.0.0.1:8081" {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "in memory",
			args: []string{"-data-dir="},
			check: func(t *testing.T, c daemonConfig) {
				if c.DataDir != "" {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "flags after the file override it",
			args: []string{cfgPath, "-client-addr", "127.0.0.1:0", "-tick-time", "100ms", "-4lw", "ruok,mntr"},
			check: func(t *testing.T, c daemonConfig) {
				if c.ClientAddr != "127.0.0.1:0" || c.TickTime != 100*time.Millisecond || c.DataDir != dir ||
					!reflect.DeepEqual(c.FourLetterWords, []string{"ruok", "mntr"}) {
					t.Fatalf("got %+v", c)
				}
				if c.ElectionTimeout != 200*time.Millisecond { // syncLimit 2 × the new tick
					t.Fatalf("election timeout %v", c.ElectionTimeout)
				}
			},
		},
		{
			name: "java system properties",
			args: []string{"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=", "-Dzookeeper.extendedTypesEnabled=true", cfgPath},
			check: func(t *testing.T, c daemonConfig) {
				if c.SuperDigest != "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "peers flag",
			args: []string{"-id", "b", "-peers", "a=127.0.0.1:7001,b=127.0.0.1:7002,c=127.0.0.1:7003", "-data-dir", dir},
			check: func(t *testing.T, c daemonConfig) {
				if c.NodeID != "b" || c.BindAddr != "127.0.0.1:7002" || len(c.Peers) != 3 {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{name: "peers without me", args: []string{"-id", "z", "-peers", "a=127.0.0.1:7001,b=127.0.0.1:7002"}, wantErr: "myid z"},
		{name: "bad peers", args: []string{"-peers", "a"}, wantErr: "id=host:port"},
		{name: "bind without peers", args: []string{"-bind", "127.0.0.1:1"}, wantErr: "-bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink strings.Builder
			o := newOptions("coordd", &sink)
			pos, err := o.parse(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			path := ""
			if len(pos) > 0 {
				path = pos[0]
			}
			c, err := o.config(path, discardLogger())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
