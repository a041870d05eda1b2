package lab.obi.agent.config;

import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** An int that is a power of two (1, 2, 4...): what the kernel's ring buffer sizes must be. */
@Constraint(validatedBy = PowerOfTwo.Validator.class)
@Target({ElementType.METHOD, ElementType.TYPE_USE})
@Retention(RetentionPolicy.RUNTIME)
public @interface PowerOfTwo {

    String message() default "must be a power of two";

    Class<?>[] groups() default {};

    Class<? extends Payload>[] payload() default {};

    final class Validator implements ConstraintValidator<PowerOfTwo, Integer> {
        @Override
        public boolean isValid(Integer value, ConstraintValidatorContext context) {
            return value == null || (value > 0 && Integer.bitCount(value) == 1);
        }
    }
}
