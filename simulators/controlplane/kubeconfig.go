package controlplane

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cctest/cctest/simulators/controlplane/pki"
)

// WriteAdminKubeconfig writes a kubeconfig with the admin client certificate
// from pkiDir, embedded so the file can be copied anywhere.
func WriteAdminKubeconfig(path, name, server, pkiDir string) error {
	read := func(f string) ([]byte, error) { return os.ReadFile(filepath.Join(pkiDir, f)) }
	ca, err := read(pki.CACert)
	if err != nil {
		return err
	}
	cert, err := read(pki.AdminCert)
	if err != nil {
		return err
	}
	key, err := read(pki.AdminKey)
	if err != nil {
		return err
	}
	return WriteKubeconfig(path, name, server, ca, cert, key)
}

// WriteKubeconfig writes a single-context kubeconfig named "cctest-<name>".
func WriteKubeconfig(path, name, server string, ca, cert, key []byte) error {
	ctx := "cctest-" + name
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctx] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[ctx] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: ctx, AuthInfo: ctx, Namespace: "default"}
	cfg.CurrentContext = ctx
	return clientcmd.WriteToFile(*cfg, path)
}
