#!/bin/sh
# nbgrader names the submitting student after the process's user (pwd.getpwuid of its uid;
# the name jovyan stands for $JUPYTERHUB_USER). A student's pod runs under a uid the image
# does not know: give that uid the hub user's name, then run the command.
set -e
if ! getent passwd "$(id -u)" >/dev/null; then
    echo "${JUPYTERHUB_USER:?must name the user of uid $(id -u), which has no passwd entry (got it unset)}:x:$(id -u):$(id -g)::${HOME:-/home/jovyan}:/bin/bash" >> /etc/passwd
fi
exec "$@"
