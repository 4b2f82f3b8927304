"""The learned router: predicts from a prompt's embedding whether the edge's answer will be good
enough, before anything is generated, so even streaming requests can be placed up front. Trained
centrally or federated across edge sites with DP-SGD."""
