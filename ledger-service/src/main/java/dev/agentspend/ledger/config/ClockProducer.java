package dev.agentspend.ledger.config;

import io.quarkus.arc.DefaultBean;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

import java.time.InstantSource;

/**
 * The ledger's clock: recorded times, UTC cap windows and hold expiry all read it. Tests replace
 * it (a bean of type InstantSource in the test sources wins over this default) to roll windows
 * over UTC boundaries without waiting.
 */
@ApplicationScoped
public class ClockProducer {
    @Produces
    @DefaultBean
    @ApplicationScoped
    InstantSource clock() {
        return InstantSource.system();
    }
}
