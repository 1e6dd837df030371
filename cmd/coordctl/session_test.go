package main

import "strings"

// sessionScript is the scripted interactive session run against coord
// (with its exact output checked), against Apache ZooKeeper (output
// compared with coord's) and by ZooKeeper's own zkCli (output compared
// with coordctl's). {{ADDR}} is the server address. It avoids what is
// timing-dependent (container/TTL expiry; events caused while printwatches
// is off, which zkCli prints or not depending on its event thread) and
// commands zkCli 3.8 lacks.
const sessionScript = `ls /
create /a hello
create /a/b
create -s /a/s x
create -e /a/e
create -c /cont
create -t 100000 /ttl
get /a
get -s /a
get /a/b
stat /a
ls -s /a
ls -R /
set /a world
set -s /a w2
set -v 99 /a x
getAcl /a
create /b data world:anyone:r,digest:u:x:cdrwa,ip:1.2.3.4/8:rw
getAcl -s /b
set /b x
create /c x auth::cdrwa
delete /nonexist
delete /a
delete -v 5 /cont
getEphemerals /
getEphemerals
getAllChildrenNumber /a
whoami
addauth digest user:pass
whoami
create /c x auth::cdrwa
getAcl /c
setAcl /c world:anyone:cdrwa
setAcl -s -v 1 /c world:anyone:r
getAcl /c
sync /a
history
redo 7
printwatches
printwatches off
printwatches
printwatches on
get -w /a
set /a zz
ls -w /a
create /a/c
stat -w /nope
create /nope
addWatch /a
create /a/d
set /a/d dd
delete /a/d
addWatch -m persistent /nope
set /nope n
removewatches /a
removewatches /a -d
get -w /a
removewatches /a -c
removewatches /a -d
setquota -n 10 /a
listquota /a
setquota -B 1000 /a
listquota /a
get /zookeeper/quota/a/zookeeper_limits
delquota -n /a
listquota /a
delquota /a
listquota /a
ls /zookeeper/quota
deleteall /a
ls /
get a
create /x/y/z
set -x /b y
create -e /e1
ls /e1
close
ls /
connect {{ADDR}}
ls /
`

func script(s, addr string) string { return strings.ReplaceAll(s, "{{ADDR}}", addr) }
