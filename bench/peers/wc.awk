# wc.awk -- the classic word count (mawk): counts of space-separated words.
{ for (i = 1; i <= NF; i++) n[$i]++ }
END { for (w in n) k++; print k }
