package operator

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/notify"
)

// Notifications is the engine's reconcile.Notifier: it posts each
// transition of an Application to the targets of its
// spec.notifications, reading each target's address (and signing key)
// from its Secret when the event is sent, so a rotated Secret is used at
// once. No error or log line shows an address or a key: the Secret's
// name stands for them.
type Notifications struct {
	// Reader reads Applications and Secrets (the manager's client).
	Reader client.Reader
	// options are given to every sender (tests: an HTTP client).
	options []notify.Option
}

var _ reconcile.Notifier = (*Notifications)(nil)

// Notify sends e to the Application's targets; an Application that is
// gone, or names none, is told nothing.
func (n *Notifications) Notify(ctx context.Context, e reconcile.Event) error {
	var app v1alpha1.Application
	if err := n.Reader.Get(ctx, client.ObjectKey{Namespace: e.Unit.Namespace, Name: e.Unit.Name}, &app); err != nil {
		return client.IgnoreNotFound(err)
	}
	var errs []error
	for i, t := range app.Spec.Notifications {
		if err := n.send(ctx, &app, t, e); err != nil {
			errs = append(errs, fmt.Errorf("Application %s/%s: spec.notifications[%d] (%s, Secret %s): %w", app.Namespace, app.Name, i, t.Type, t.SecretRef.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifications) send(ctx context.Context, app *v1alpha1.Application, t v1alpha1.NotificationTarget, e reconcile.Event) error {
	var secret corev1.Secret
	if err := n.Reader.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: t.SecretRef.Name}, &secret); err != nil {
		return fmt.Errorf("read the Secret: %w", err)
	}
	address := string(secret.Data["address"])
	if address == "" {
		return errors.New(`the Secret has no "address" key`)
	}
	opts := append([]notify.Option(nil), n.options...)
	var (
		sender reconcile.Notifier
		err    error
	)
	switch t.Type {
	case "webhook":
		if key := secret.Data["secret"]; len(key) > 0 {
			opts = append(opts, notify.WithSecret(key))
		}
		sender, err = notify.NewWebhook(address, opts...)
	case "slack":
		sender, err = notify.NewSlack(address, opts...)
	default:
		return fmt.Errorf("type %q: want webhook or slack", t.Type)
	}
	if err != nil {
		// notify's errors name the URL's problem, not the URL.
		return err
	}
	return sender.Notify(ctx, e)
}
