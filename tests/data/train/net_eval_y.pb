B
net_eval_yJ0ÄL…>ñœ¾zs>Ú°F>G†¾ªåH>'8>Øg–¾úBU>»‚j>¸¥¾OIl>