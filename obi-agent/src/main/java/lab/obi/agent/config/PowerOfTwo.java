package lab.obi.agent.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** An int that is a power of two (1, 2, 4...): what the kernel's ring buffer sizes must be ({@link ConfigConstraints}). */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
public @interface PowerOfTwo {
}
